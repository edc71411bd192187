"""The papers' findings (SCIENCE.md sections 1 and 2) checked on a sweep's runs, each with a
verdict: held, did not hold, or cannot tell from these runs (sweep/fit/findings/verdict.py)."""
