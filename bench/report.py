"""Results as JSON and as the Markdown that docs/performance.md shows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# docs/performance.md keeps two generated sections: the default run's and the latest --scale run's.
MAIN_SECTION = "results"
SCALE_SECTION = "scale"


def _ms(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _rps(run: dict[str, Any]) -> str:
    runs = run.get("rps_all_runs", [])
    spread = f" ({min(runs):.0f}–{max(runs):.0f})" if len(runs) > 1 else ""
    return f"{run['rps']:.0f}{spread}"


def _errors(run: dict[str, Any]) -> str:
    return f"{run['non_2xx']} / {run['socket_errors']}"


BUSY_MACHINE_PERCENT = 25


def _target(target: str, goal: str, measured: str | None, met: bool | None) -> dict[str, Any]:
    return {"target": target, "goal": goal, "measured": measured, "met": met}


def _contention(*runs: dict[str, Any]) -> str:
    """A warning to put beside a number measured while other jobs used the machine."""
    other = max(run.get("other_cpu_percent", 0.0) for run in runs)
    return f" (other jobs used {other:.0f}% CPU meanwhile)" if other > BUSY_MACHINE_PERCENT else ""


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets with what this run measured; `met` is None when not measured."""
    rows: list[dict[str, Any]] = []
    for workload in ("list", "mixed"):
        pair = results.get("closed_loop", {}).get(workload, {})
        ratio = pair.get("ratio")
        measured = (
            None
            if ratio is None
            else (
                f"{ratio:.2f}; CPU per request {pair['cpu_ratio']:.2f}{_contention(pair['service'], pair['ceiling'])}"
            )
        )
        rows.append(
            _target(
                f"{workload}: service / ceiling throughput",
                ">= 0.60",
                measured,
                None if ratio is None else ratio >= 0.6,
            )
        )
    fixed = results.get("fixed_rate", {}).get("service")
    rate = results["settings"]["rate"]
    rows.append(
        _target(
            f"p99 at {rate:.0f} req/s offered (mixed)",
            "< 20 ms",
            None if fixed is None else f"{fixed['p99_ms']:.1f} ms{_contention(fixed)}",
            None if fixed is None else fixed["p99_ms"] < 20,
        )
    )
    cost = results.get("jwt", {}).get("service_verify_us")
    rows.append(
        _target(
            "JWT verification per request",
            "< 20 µs",
            None if cost is None else f"{cost:.1f} µs",
            None if cost is None else cost < 20,
        )
    )
    scale = results.get("scale")
    if scale:
        p50 = scale["first_page"]["service"]["p50_ms"]
        rows.append(
            _target("1M rows: first page of the 10k-task user, p50", "< 10 ms", f"{p50:.1f} ms", p50 < 10)
        )
        rows.append(
            _target(
                "1M rows: index-only plan for that page",
                "Index Only Scan",
                scale["page_scan"],
                scale["page_scan"] == "Index Only Scan",
            )
        )
    rss = results.get("memory", {}).get("service")
    rows.append(
        _target(
            "service RSS per worker after mixed",
            "< 120 MB",
            None if rss is None else f"{rss['rss_kib'] / 1024:.0f} MiB",
            None if rss is None else rss["rss_kib"] * 1024 < 120e6,
        )
    )
    return rows


def _closed_loop_table(results: dict[str, Any]) -> list[str]:
    columns = (
        "Workload",
        "Server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "Errors (non-2xx / socket)",
        "Server CPU µs/req",
        "PostgreSQL CPU µs/req",
        "Other CPU %",
    )
    lines = [f"| {' | '.join(columns)} |", "|---|---|" + "---:|" * (len(columns) - 2)]
    for workload, pair in results.get("closed_loop", {}).items():
        for name in ("service", "ceiling"):
            run = pair.get(name)
            if run:
                lines.append(
                    f"| {workload} | {name} | {_rps(run)} | {_ms(run['p50_ms'])} | {_ms(run['p99_ms'])} "
                    f"| {_errors(run)} | {run['server_cpu_us_per_request']:.0f} "
                    f"| {run['postgres_cpu_us_per_request']:.0f} "
                    f"| {run['other_cpu_percent']:.0f} |"
                )
        if pair.get("ratio") is not None:
            lines.append(
                f"| **{workload}** | **service / ceiling** | **{pair['ratio']:.2f}** | | | "
                f"| **{pair['cpu_ratio']:.2f}** (ceiling ÷ service) | | |"
            )
    return lines


def _fixed_rate_table(results: dict[str, Any]) -> list[str]:
    fixed = results.get("fixed_rate", {})
    if not fixed:
        return []
    lines = [
        "",
        (
            f"Open-loop fixed rate, `mixed`, {results['settings']['rate']:.0f} req/s offered for "
            f"{results['settings']['fixed_seconds']:.0f} s (latency from each request's scheduled start):"
        ),
        "",
        "| Server | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | Errors (non-2xx / socket) "
        + "| Other CPU % | Generator lag ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in fixed.items():
        runs = run.get("p99_ms_all_runs", [])
        spread = f" ({', '.join(_ms(value) for value in runs)})" if len(runs) > 1 else ""
        lines.append(
            f"| {name} | {run['achieved_rps']:.0f} | {_ms(run['p50_ms'])} | {_ms(run['p99_ms'])}{spread} "
            f"| {_ms(run['p99_9_ms'])} | {_ms(run['max_ms'])} | {_errors(run)} | {run['other_cpu_percent']:.0f} "
            f"| {_ms(run['max_send_lag_ms'])} |"
        )
    return lines


def _notes(results: dict[str, Any]) -> list[str]:
    lines = [""]
    memory = results.get("memory", {})
    if memory:
        parts = [
            f"{name} {used['rss_kib'] / 1024:.0f} MiB (peak {used['peak_rss_kib'] / 1024:.0f} MiB)"
            for name, used in memory.items()
        ]
        lines.append(f"- Resident memory per worker after the `mixed` run: {'; '.join(parts)}.")
    logs = results.get("log_cost")
    if logs:
        service_cpu = results["closed_loop"]["list"]["service"]["server_cpu_us_per_request"]
        repeat = results["settings"].get("repeat", 1)
        verdict = (
            "the runs' req/s ranges overlap, so the difference is within this machine's noise"
            if logs.get("runs_overlap") and repeat > 1
            else "single runs: compare with care"
        )
        lines.append(
            f"- Access logs: one JSON access line costs {logs['access_line_us']:.1f} µs in-process (the service's "
            f"formatter, to a file), {100 * logs['access_line_us'] / service_cpu:.1f}% of the server CPU a `list` "
            f"request takes. Measured end to end, `list` at `LOG_LEVEL=info` ran at {logs['info_rps']:.0f} req/s "
            f"against {logs['warning_rps']:.0f} at `warning` ({logs['change_percent']:+.0f}%; {verdict})."
        )
    jwt_cost = results.get("jwt")
    if jwt_cost:
        lines.append(
            f"- Token verification in-process (best of 7 passes over every token; median in brackets): the "
            f"service's `TokenVerifier.verify` {jwt_cost['service_verify_us']:.1f} µs "
            f"({jwt_cost['service_verify_median_us']:.1f}), a bare `jwt.decode` {jwt_cost['bare_decode_us']:.1f} µs "
            f"({jwt_cost['bare_decode_median_us']:.1f}); a token's first use (full verification, then "
            f"cached until it expires) {jwt_cost.get('service_verify_first_use_us', float('nan')):.1f} µs."
        )
    checks = results.get("checks", {})
    if checks:
        failed = [
            f"{server}: {name}"
            for server, named in checks.get("results", {}).items()
            for name, ok in named.items()
            if not ok
        ]
        same = "identical" if checks.get("same_list_json") else "DIFFERENT"
        lines.append(
            f"- Contract checks before loading: {'all passed' if not failed else 'FAILED ' + '; '.join(failed)}; "
            f"the list JSON of both servers was {same}."
        )
    return lines


def _targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["", "| Target (from the issue) | Goal | Measured | Met |", "|---|---|---|---|"]
    for row in targets(results):
        met = "not measured" if row["met"] is None else "yes" if row["met"] else "**no**"
        lines.append(f"| {row['target']} | {row['goal']} | {row['measured'] or 'n/a'} | {met} |")
    return lines


def _scale_section(results: dict[str, Any]) -> list[str]:
    scale = results.get("scale")
    if not scale:
        return []
    first = scale["first_page"]
    lines = [
        "",
        f"#### {scale['rows']:,} rows: first page of the user with {scale['heavy_tasks']:,} tasks",
        "",
        "One connection, sequential requests (`GET /api/tasks`, 100 rows, plus the count for `X-Total-Count`):",
        "",
        "| Server | req/s | p50 ms | p99 ms | Other CPU % |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, run in first.items():
        lines.append(
            f"| {name} | {run['rps']:.0f} | {_ms(run['p50_ms'])} | {_ms(run['p99_ms'])} | {run['other_cpu_percent']:.0f} |"
        )
    lines += ["", "| Target (from the issue) | Goal | Measured | Met |", "|---|---|---|---|"]
    for row in targets(results):
        if row["target"].startswith("1M rows"):
            lines.append(
                f"| {row['target']} | {row['goal']} | {row['measured']} | {'yes' if row['met'] else '**no**'} |"
            )
    for title, key in (("page query", "explain_page"), ("count query", "explain_count")):
        lines += ["", f"`EXPLAIN (ANALYZE, BUFFERS)` of the service's {title}:", "", "```", scale[key], "```"]
    return lines


def _profile_section(results: dict[str, Any]) -> list[str]:
    profiles = results.get("profile")
    if not profiles:
        return []
    lines = ["", "#### Where the service's CPU time goes (py-spy, share of samples)", ""]
    for workload, summary in profiles.items():
        layers = ", ".join(f"{name} {share}%" for name, share in summary["layers"][:8])
        lines.append(f"- `{workload}` by layer (own time): {layers}.")
    lines.append("")
    lines.append("Collapsed stacks: `bench/results/profile-*.txt` (open in speedscope or flamegraph.pl).")
    return lines


def _header(results: dict[str, Any]) -> list[str]:
    machine = results["machine"]
    settings = results["settings"]
    dataset = results["dataset"]
    repeat = settings.get("repeat", 1)
    runs = f"median of {repeat} runs (range in brackets), " if repeat > 1 else ""
    return [
        (
            f"Measured {results['generated_at']} on {machine['cpu_model']}, {machine['cores']} cores, "
            f"{machine['memory_gib']} GiB RAM; PostgreSQL {machine['postgresql']}; Python {machine['python']}; "
            f"{machine['wrk']}. {settings['pinning']}"
        ),
        "",
        (
            f"Data: {dataset['rows']:,} tasks ({dataset['description']}); load: {settings['connections']} "
            f"connections, {runs}{settings['duration']:.0f} s per run after {settings['warmup']:.0f} s of warm-up, "
            f"each request as the next of {dataset['load_users']:,} users; database restored from a template "
            "before every run."
        ),
        "",
    ]


def markdown(results: dict[str, Any]) -> str:
    """Everything this run measured, as Markdown."""
    scale = _scale_section(results)
    return main_section(results) + ("\n".join(scale) + "\n" if scale else "")


def main_section(results: dict[str, Any]) -> str:
    """The throughput, latency, memory and target tables."""
    lines = [
        *_header(results),
        *_closed_loop_table(results),
        *_fixed_rate_table(results),
        *_notes(results),
        *_targets_table(results),
        *_profile_section(results),
    ]
    return "\n".join(lines) + "\n"


def scale_section(results: dict[str, Any]) -> str:
    """The 1M-row section (empty unless --scale was used)."""
    if not results.get("scale"):
        return ""
    return "\n".join([*_header(results), *_closed_loop_table(results), *_scale_section(results)]) + "\n"


def write(results: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """latest.json and latest.md in `directory` (git-ignored)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    md_path.write_text(markdown(results))
    return json_path, md_path


def update_doc(doc: Path, section: str, body: str) -> bool:
    """Replace the text between `section`'s markers in `doc`; False when the markers are missing."""
    start, end = f"<!-- bench:{section}:start -->", f"<!-- bench:{section}:end -->"
    text = doc.read_text() if doc.exists() else ""
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{body}{end}{tail}")
    return True
