"""The one exception type for mistakes a user can make (bad override, missing data, ...).

Raised before any compute is spent, with the offending value and what would be accepted.
"""

import os
import sys
from typing import NoReturn


class ConfigError(ValueError):
    """A user mistake: the message names the value and what is accepted."""


class DamagedFile(ConfigError):
    """A file the project wrote and reads back cannot be read (truncated, not JSON / YAML, not the
    shape it should have): one line naming the file, what is wrong and what to do."""

    def __init__(self, path: object, problem: str, remedy: str):
        self.path, self.problem, self.remedy = path, problem, remedy
        super().__init__(f"{path}: {problem}; {remedy}")


class StorageError(ConfigError):
    """A file of a run folder cannot be written (disk full, I/O error, no permission). Shown as one
    line like a user mistake: the fix is outside the program, and re-running resumes the run."""


def exit_on_user_error(err: ConfigError) -> NoReturn:
    """A user's mistake ends the command with its message alone: `error: MESSAGE` on stderr and
    exit code 2; with HYDRA_FULL_ERROR=1 the traceback instead."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise err
    print(f"error: {err}", file=sys.stderr)
    raise SystemExit(2) from None
