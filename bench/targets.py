"""The issue's targets, each with what a run measured and whether it was met.

A target measured while requests failed is void: its figure is shown, but it is never "met".
"""

from __future__ import annotations

from typing import Any

from bench.runs import is_void

BUSY_MACHINE_PERCENT = 25
JWT_GOAL_US = 20
# The performance issue's goals: throughput against the ceiling, the fixed-rate p99, memory.
CEILING_RATIO_GOAL = 0.75
FIXED_P99_GOAL_MS = 15
RSS_GOAL_MB = 110


def _target(
    target: str, goal: str, measured: str | None, met: bool | None, *runs: dict[str, Any]
) -> dict[str, Any]:
    return {
        "target": target,
        "goal": goal,
        "measured": measured,
        "met": met,
        "void": any(is_void(run) for run in runs),
    }


def verdict(row: dict[str, Any]) -> str:
    """The Met column: void beats everything, then not measured, yes or no."""
    if row["void"]:
        return "**void** (requests failed)"
    if row["met"] is None:
        return "not measured"
    return "yes" if row["met"] else "**no**"


def contention(*runs: dict[str, Any]) -> str:
    """A warning to put beside a number measured while other jobs used the machine."""
    other = max(run.get("other_cpu_percent", 0.0) for run in runs)
    return f" (other jobs used {other:.0f}% CPU meanwhile)" if other > BUSY_MACHINE_PERCENT else ""


def _ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for workload in ("list", "mixed"):
        pair = results.get("closed_loop", {}).get(workload, {})
        ratio = pair.get("ratio")
        if ratio is None:
            rows.append(
                _target(f"{workload}: service / ceiling throughput", f">= {CEILING_RATIO_GOAL}", None, None)
            )
            continue
        service, ceiling = pair["service"], pair["ceiling"]
        measured = f"{ratio:.2f}; CPU per request {pair['cpu_ratio']:.2f}{contention(service, ceiling)}"
        rows.append(
            _target(
                f"{workload}: service / ceiling throughput",
                f">= {CEILING_RATIO_GOAL}",
                measured,
                ratio >= CEILING_RATIO_GOAL,
                service,
                ceiling,
            )
        )
    return rows


def _jwt(results: dict[str, Any]) -> dict[str, Any]:
    # The claim is about verifying a token, so the verdict is the full verification a token's
    # first use costs; the cached repeat use is shown beside it.
    cost = results.get("jwt", {})
    first, cached = cost.get("service_first_use_us"), cost.get("service_cached_us")
    measured = None if first is None else f"first use {first:.1f} µs; cached repeat use {cached:.1f} µs"
    return _target(
        "JWT verification (a token's first use: signature checked)",
        f"< {JWT_GOAL_US} µs",
        measured,
        None if first is None else first < JWT_GOAL_US,
    )


def _scale(scale: dict[str, Any]) -> list[dict[str, Any]]:
    service = scale["first_page"]["service"]
    p50 = service["p50_ms"]
    rows = [
        _target(
            "1M rows: first page of the 10k-task user, p50", "< 10 ms", f"{p50:.1f} ms", p50 < 10, service
        ),
        _target(
            "1M rows: index-only plan for that page",
            "Index Only Scan",
            scale["page_scan"],
            scale["page_scan"] == "Index Only Scan",
        ),
    ]
    for name, measured in scale.get("lists", {}).items():
        run = measured["runs"]["service"]
        rows.append(
            _target(
                f"1M rows: {name} of the 10k-task user (`?{measured['query']}`), p50",
                "< 10 ms",
                f"{run['p50_ms']:.1f} ms",
                run["p50_ms"] < 10,
                run,
            )
        )
    return rows


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with what this run measured; `met` is None when not measured."""
    rows = _ratios(results)
    fixed = results.get("fixed_rate", {}).get("service")
    rate = results["settings"]["rate"]
    rows.append(
        _target(
            f"p99 at {rate:.0f} req/s offered (mixed)",
            f"< {FIXED_P99_GOAL_MS} ms",
            None if fixed is None else f"{fixed['p99_ms']:.1f} ms{contention(fixed)}",
            None if fixed is None else fixed["p99_ms"] < FIXED_P99_GOAL_MS,
            *([fixed] if fixed else []),
        )
    )
    rows.append(_jwt(results))
    if results.get("scale"):
        rows += _scale(results["scale"])
    rss = results.get("memory", {}).get("service")
    mixed = results.get("closed_loop", {}).get("mixed", {}).get("service")
    rows.append(
        _target(
            "service RSS per worker after mixed",
            f"< {RSS_GOAL_MB} MB",
            None if rss is None else f"{rss['rss_kib'] / 1024:.0f} MiB",
            None if rss is None else rss["rss_kib"] * 1024 < RSS_GOAL_MB * 1e6,
            *([mixed] if mixed else []),
        )
    )
    return rows
