"""Several runs of one measurement reported as one: medians, errors summed, void if any failed."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

# Counts that say whether a run can be trusted: a single failure anywhere taints the figure.
ERROR_COUNTS = ("non_2xx", "socket_errors")


def is_void(run: dict[str, Any]) -> bool:
    """A figure measured while requests failed (non-2xx or socket errors) says nothing."""
    return any(run.get(key, 0) for key in ERROR_COUNTS)


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from `runs` of the same measurement.

    Every number is the median (`statistics.median`: the mean of the two middle values for an
    even count), `max_*` figures the worst run's, error counts and statuses the sum over all runs;
    every run is kept under `all_runs`.
    """
    combined = _merge(runs)
    combined["all_runs"] = runs
    combined["void"] = is_void(combined)
    return combined


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [run[key] for run in runs if key in run]
        if key in ERROR_COUNTS:
            merged[key] = sum(values)
        elif key == "statuses":
            merged[key] = dict(sorted(sum((Counter(value) for value in values), Counter()).items()))
        elif isinstance(first, bool):
            merged[key] = any(values)
        elif isinstance(first, int | float):
            merged[key] = max(values) if key.startswith("max_") else statistics.median(values)
        elif isinstance(first, dict) and all(isinstance(value, int | float) for value in first.values()):
            merged[key] = _merge(values)  # e.g. the memory readings
        # Anything else (the slowest requests, ...) stays only in the runs themselves.
    return merged


def runs_overlap(first: dict[str, Any], second: dict[str, Any], key: str = "rps") -> bool:
    """Whether the ranges of `key` over two combined results' runs overlap."""
    a = [float(run[key]) for run in first["all_runs"]]
    b = [float(run[key]) for run in second["all_runs"]]
    return min(a) <= max(b) and min(b) <= max(a)
