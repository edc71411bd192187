"""The one exception type for mistakes a user can make (bad override, missing data, ...).

Raised before any compute is spent, with the offending value and what would be accepted.
"""


class ConfigError(ValueError):
    """A user mistake: the message names the value and what is accepted."""


class StorageError(ConfigError):
    """A file of a run folder cannot be written (disk full, I/O error, no permission). Shown as one
    line like a user mistake: the fix is outside the program, and re-running resumes the run."""
