"""`--fix NAME=VALUE` of `sweep fit` and `sweep report`: the parametric laws' parameters a user
holds at a value (README "Fitting scaling laws: Holding E"), checked before any fit runs.

    E=1.69      E held at 1.69 nats/token (0 < E < the lowest loss of the runs)
    E=true      E held at the runs' true_entropy_nats (a data=synthetic sweep records it in each
                run's result.json; every run must carry the same value)
    alpha=0.34, beta=0.28   an exponent held (> 0)
"""

from __future__ import annotations

from typing import Iterable, Mapping

from sweep.errors import ConfigError
from sweep.fit.parametric import FIXABLE, check_fix
from sweep.fit.table import RunsTable

TRUE = "true"


def fix_values(specs: Iterable[str] | Mapping[str, object] | None, table: RunsTable) -> dict[str, float]:
    """{name: value} of `specs` ("NAME=VALUE" strings, one such string, or a mapping whose E may be
    True), E=true read from the runs' true_entropy_nats; ConfigError naming the bad spec and what is accepted."""
    if not specs:
        return {}
    if isinstance(specs, str):  # one "NAME=VALUE" (from Python: fix="E=1.69"), not its characters
        specs = [specs]
    pairs = list(specs.items()) if isinstance(specs, Mapping) else [_split(spec) for spec in specs]
    fixed: dict[str, object] = {}
    for name, value in pairs:
        if name in fixed:
            raise ConfigError(f"--fix {name}={value}: {name} is given twice; accepted is one value per parameter")
        if value is True:  # from Python: fix={"E": True}, as --fix E=true (it was held at 1.0)
            value = TRUE
        elif value is False:
            raise ConfigError(f"--fix {name}=False: accepted is a number, or for E True (the runs' "
                              "true_entropy_nats)")
        if isinstance(value, str) and value.strip().lower() == TRUE:
            if name != "E":
                raise ConfigError(f"--fix {name}={value}: only E takes 'true' (the runs' true_entropy_nats); "
                                  f"accepted for {name} is a number")
            truth = table.true_entropy()
            if truth is None:
                raise ConfigError(f"--fix E=true: the runs{f' of {table.source}' if table.source else ''} carry no "
                                  f"true_entropy_nats (only data=synthetic sweeps record it); accepted is "
                                  f"--fix E=VALUE with a number")
            value = truth
        fixed[name] = value
    return check_fix(fixed, table.loss_R)


def _split(spec: str) -> tuple[str, str]:
    name, sep, value = str(spec).partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ConfigError(f"--fix {spec!r}: accepted is NAME=VALUE with NAME one of {', '.join(FIXABLE)} "
                          f"(e.g. --fix E=1.69, or --fix E=true for a synthetic corpus's entropy)")
    return name.strip(), value.strip()
