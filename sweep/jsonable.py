"""Values as plain JSON types, for every JSON the project writes or prints (fits.json, `--json`
outputs of sweep fit / predict / suggest / status): `jsonable`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays as Python numbers and lists, NaN as None (no value),
    +-Inf as the strings "inf" / "-inf" (an unbounded interval's end: None read as missing)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(value) if math.isfinite(value) else None
    return value
