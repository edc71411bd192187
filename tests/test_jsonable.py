"""sweep/jsonable.py: values as plain JSON types for every JSON the project writes."""

from __future__ import annotations

import json

import numpy as np

from sweep.jsonable import jsonable


def test_json_values_keep_an_unbounded_end_apart_from_one_that_cannot_be_told():
    # OLMo's ladder: B's interval [9.2e-90, inf] printed as [9.2e-90, null], read as missing
    assert jsonable({"B": (9.2e-90, float("inf")), "x": np.float64("nan"), "n": np.int64(3)}) == {
        "B": [9.2e-90, "inf"], "x": None, "n": 3}
    assert jsonable([-np.inf]) == ["-inf"]


def test_numpy_arrays_and_nested_values_become_lists_and_python_numbers_json_can_write():
    value = jsonable({"loss_R": np.array([3.0, np.nan]), 7: [np.float32(0.5), (np.int32(2), "x")], "ok": True})
    assert value == {"loss_R": [3.0, None], "7": [0.5, [2, "x"]], "ok": True}
    assert json.loads(json.dumps(value, allow_nan=False)) == value
