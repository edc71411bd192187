"""The record of an active sweep's rounds, `<sweep_dir>/suggest/rounds.jsonl`: its one writer and
its one reader (launch/suggest_loop.py writes it, `sweep report` reads it for "Active rounds").

One JSON object per line, appended (never rewritten), each line flushed and fsynced as it is
written, so an interrupted loop loses at most the line it was writing (a line cut short is read
as absent, and the next event starts on a line of its own). Events, each with `event`, `round`
(1, 2, ...) and `at` (UTC time):

    proposed  before a round trains: `suggestion` (sweep/fit/suggest.py Suggestion.to_dict(): the
              law, target compute, criterion, the fit's L*(C) and N_opt(C) with their intervals
              now, the intervals expected after, the proposals with their overrides), `params`
              (the fitted law's parameters), `runs` (each proposal's run folder name, in order)
    ended     once the round's runs have ended: `outcomes` (per run: run, label, status
              complete | failed | ..., final_eval_loss) and `after` (the refit: `loss`, `n_opt`
              as {value, interval}, `params`, `n_points`)
    stopped   the loop stopped: `reason` (rounds | width | no_candidate), `detail` (one line),
              `width` (L*'s relative interval width then)

A round with a `proposed` line and no `ended` line was interrupted: a resumed loop trains that
round's recorded proposals (runs already finished are skipped) instead of choosing again.

Letters: none (no arrays here).
"""

from __future__ import annotations

import datetime
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweep.errors import DamagedFile, StorageError
from sweep.jsonable import jsonable

ROUNDS_FILE = Path("suggest") / "rounds.jsonl"
PROPOSED, ENDED, STOPPED = "proposed", "ended", "stopped"
EVENTS = (PROPOSED, ENDED, STOPPED)
STOP_REASONS = {"rounds": "the rounds asked for are done", "width": "L*'s interval is narrower than asked",
                "no_candidate": "no candidate left to propose"}
REMEDY = ("it is the record of `sweep suggest --rounds`: fix or delete the damaged line (runs already trained "
          "stay; a resumed loop then chooses that round again)")


def rounds_path(sweep_dir: str | os.PathLike) -> Path:
    return Path(sweep_dir) / ROUNDS_FILE


def append_event(sweep_dir: str | os.PathLike, event: str, round_number: int, **fields: Any) -> dict[str, Any]:
    """Append one event line (written, flushed, fsynced); returns the event as written."""
    if event not in EVENTS:
        raise ValueError(f"event {event!r}: accepted are {', '.join(EVENTS)}")
    record = {"event": event, "round": int(round_number),
              "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **fields}
    line = json.dumps(jsonable(record), allow_nan=False) + "\n"
    path = rounds_path(sweep_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab+") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a torn line of an interrupted write: start on a line of our own
                    line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise StorageError(f"cannot write {path}: {err}") from None
    return record


@dataclass(frozen=True)
class Round:
    """One round: its `proposed` event and, once its runs ended, its `ended` event."""

    number: int
    proposed: dict[str, Any]
    ended: dict[str, Any] | None = None

    @property
    def runs(self) -> list[str]:
        return list(self.proposed.get("runs") or [])

    @property
    def proposals(self) -> list[dict[str, Any]]:
        return list(self.proposed["suggestion"].get("proposals") or [])

    @property
    def flops(self) -> float:
        return float(sum(p.get("flops") or 0.0 for p in self.proposals))

    def before(self, target: str) -> tuple[float, float, float] | None:
        """(value, lo, hi) of `target` (loss: L*(C), n_opt: N_opt(C)) in the fit the round chose from."""
        return _triple(self.proposed["suggestion"].get("now", {}).get(target))

    def expected(self, target: str) -> tuple[float, float] | None:
        """(lo, hi) of `target`'s interval `sweep suggest` expected after the round's runs (None where the
        record has none)."""
        entry = self.proposed["suggestion"].get("expected", {}).get(target) or {}
        lo, hi = (entry.get("interval") or [None, None])[:2]
        return None if lo is None or hi is None else (float(lo), float(hi))

    def after(self, target: str) -> tuple[float, float, float] | None:
        """(value, lo, hi) of `target` in the refit once the round's runs ended (None before)."""
        return None if self.ended is None else _triple((self.ended.get("after") or {}).get(target))


@dataclass(frozen=True)
class RoundsLog:
    rounds: tuple[Round, ...]
    stopped: dict[str, Any] | None  # the latest `stopped` event, when it came after the latest round

    @property
    def done(self) -> int:
        """Rounds whose runs have ended."""
        return sum(r.ended is not None for r in self.rounds)

    @property
    def open_round(self) -> Round | None:
        """The interrupted round (proposed, not ended), if the latest round is one."""
        return self.rounds[-1] if self.rounds and self.rounds[-1].ended is None else None


def read_rounds(sweep_dir: str | os.PathLike) -> RoundsLog:
    """The rounds recorded in the folder (none when it has no rounds.jsonl). A line cut short by an
    interrupted write (not ending in `}`) is left out; any other line that is not such an event
    is a DamagedFile naming it."""
    path = rounds_path(sweep_dir)
    if not path.exists():
        return RoundsLog((), None)
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as err:
        raise DamagedFile(path, f"cannot be read ({err})", REMEDY) from None
    rounds: dict[int, Round] = {}
    stopped = None
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    for number, line in numbered:
        try:
            record = json.loads(line)
            kind, n = record["event"], int(record["round"])
            if kind not in EVENTS or (kind == PROPOSED and "suggestion" not in record):
                raise ValueError(kind)
        except (ValueError, KeyError, TypeError) as err:
            if not line.rstrip().endswith(b"}"):  # cut short by an interrupted write: the event was not recorded
                continue
            raise DamagedFile(path, f"line {number} is not an event of the rounds record ({err})", REMEDY) from None
        if kind == PROPOSED:
            rounds[n] = Round(n, record)
            stopped = None
        elif kind == ENDED and n in rounds:
            rounds[n] = Round(n, rounds[n].proposed, record)
        elif kind == STOPPED:
            stopped = record
    return RoundsLog(tuple(rounds[n] for n in sorted(rounds)), stopped)


def relative_width(entry: tuple[float, float, float] | None) -> float:
    """(hi - lo) / value of a (value, lo, hi); NaN where it cannot be told."""
    if entry is None:
        return float("nan")
    value, lo, hi = entry
    if not all(math.isfinite(v) for v in (value, lo, hi)) or value == 0:
        return float("nan")
    return (hi - lo) / abs(value)


def _triple(entry: dict[str, Any] | None) -> tuple[float, float, float] | None:
    if not entry:
        return None
    lo, hi = (entry.get("interval") or [None, None])[:2]
    return tuple(float("nan") if v is None else float(v) for v in (entry.get("value"), lo, hi))  # type: ignore[return-value]
