"""Results as JSON and as the Markdown that docs/performance.md shows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.runs import is_void
from bench.targets import targets, verdict

# docs/performance.md keeps three generated sections: the throughput runs', the latency run's
# and the latest --scale run's.
MAIN_SECTION = "results"
SCALE_SECTION = "scale"
LATENCY_SECTION = "latency"


def ms(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _all(run: dict[str, Any], key: str) -> list[float]:
    return [each[key] for each in run.get("all_runs", [])]


def rps(run: dict[str, Any], key: str = "rps") -> str:
    """The median 2xx answers per second, with the range over the runs when there were several."""
    runs = _all(run, key)
    spread = f" ({min(runs):.0f}–{max(runs):.0f})" if len(runs) > 1 else ""
    return f"{run[key]:.0f}{spread}"


def errors(run: dict[str, Any]) -> str:
    return f"{run['non_2xx']} / {run['socket_errors']}"


def marked(text: str, *runs: dict[str, Any]) -> str:
    """`text`, marked void when any of `runs` had failed requests."""
    return f"**void** {text}" if any(is_void(run) for run in runs) else text


def _closed_loop_table(results: dict[str, Any]) -> list[str]:
    columns = (
        "Workload",
        "Server",
        "2xx req/s",
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
                rate, p50, p99 = (
                    marked(text, run) for text in (rps(run), ms(run["p50_ms"]), ms(run["p99_ms"]))
                )
                cpu = (
                    marked(f"{run[key]:.0f}", run)
                    for key in ("server_cpu_us_per_request", "postgres_cpu_us_per_request")
                )
                lines.append(
                    f"| {workload} | {name} | {rate} | {p50} | {p99} | {errors(run)} | {' | '.join(cpu)} "
                    f"| {run['other_cpu_percent']:.0f} |"
                )
        if pair.get("ratio") is not None:
            both = (pair["service"], pair["ceiling"])
            ratio = marked(f"**{pair['ratio']:.2f}**", *both)
            cpu_ratio = marked(f"**{pair['cpu_ratio']:.2f}**", *both)
            lines.append(
                f"| **{workload}** | **service / ceiling** | {ratio} | | | | {cpu_ratio} (ceiling ÷ service) | | |"
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
            f"{results['settings']['fixed_seconds']:.0f} s (latency from each request's scheduled start; "
            "max and generator lag are the worst run's):"
        ),
        "",
        "| Server | achieved 2xx req/s | p50 ms | p99 ms | p99.9 ms | max ms | Errors (non-2xx / socket) "
        + "| Other CPU % | Generator lag ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in fixed.items():
        runs = _all(run, "p99_ms")
        spread = f" ({', '.join(ms(value) for value in runs)})" if len(runs) > 1 else ""
        figures = (
            f"{run['achieved_rps']:.0f}",
            ms(run["p50_ms"]),
            ms(run["p99_ms"]) + spread,
            ms(run["p99_9_ms"]),
            ms(run["max_ms"]),
        )
        lines.append(
            f"| {name} | {' | '.join(marked(figure, run) for figure in figures)} | {errors(run)} "
            f"| {run['other_cpu_percent']:.0f} | {ms(run['max_send_lag_ms'])} |"
        )
    return lines


def _log_verdict(logs: dict[str, Any], repeat: int) -> str:
    """What the end-to-end difference between the two log levels can be said to show."""
    if logs.get("void"):
        return "void: requests failed in these runs"
    if repeat < 2:
        return "one run each, so there is no spread to judge the difference against"
    if logs.get("runs_overlap"):
        return f"the {repeat} runs of each overlap, so the difference is within this machine's noise"
    return f"the {repeat} runs of each do not overlap"


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
        verdict_text = _log_verdict(logs, results["settings"].get("repeat", 1))
        lines.append(
            f"- Access logs: one JSON access line costs {logs['access_line_us']:.1f} µs in-process (the service's "
            f"formatter, to a file), {100 * logs['access_line_us'] / service_cpu:.1f}% of the server CPU a `list` "
            f"request takes. Measured end to end, `list` at `LOG_LEVEL=info` ran at {logs['info_rps']:.0f} 2xx "
            f"req/s against {logs['warning_rps']:.0f} at `warning` ({logs['change_percent']:+.0f}%; {verdict_text})."
        )
    jwt_cost = results.get("jwt")
    if jwt_cost:
        lines.append(
            "- Token verification in-process (best of 7 passes over every token; median in brackets): the "
            f"service's `TokenVerifier.verify` on a token's first use (signature checked, then cached until "
            f"it expires) {jwt_cost['service_first_use_us']:.1f} µs ({jwt_cost['service_first_use_median_us']:.1f}), "
            f"on a repeat use (cache hit) {jwt_cost['service_cached_us']:.1f} µs "
            f"({jwt_cost['service_cached_median_us']:.1f}); a bare `jwt.decode` {jwt_cost['bare_decode_us']:.1f} µs "
            f"({jwt_cost['bare_decode_median_us']:.1f})."
        )
    session = results.get("session")
    if session:
        lines.append(
            f"- Session tokens: `GET /api/tasks?limit=1` in-process (best of 7 passes of {session['requests_per_pass']} "
            f"requests; median in brackets) took {session['session_us']:.0f} µs ({session['session_median_us']:.0f}) "
            f"with a Better Auth session token as the bearer against {session['jwt_us']:.0f} µs "
            f"({session['jwt_median_us']:.0f}) with a JWT: {session['extra_us']:+.0f} µs for the `session` lookup, "
            "one more query per request (no cache, so a sign-out counts at once on every instance)."
        )
    mcp_cost = results.get("mcp")
    if mcp_cost:
        lines.append(
            "- MCP against REST in-process (the whole app over an ASGI client, best of 7 passes; median in "
            f"brackets): one `tools/call` of `get_task` {mcp_cost['mcp_get_us']:.0f} µs "
            f"({mcp_cost['mcp_get_median_us']:.0f}), the equivalent `GET /api/tasks/{{id}}` "
            f"{mcp_cost['rest_get_us']:.0f} µs ({mcp_cost['rest_get_median_us']:.0f}): "
            f"{mcp_cost['mcp_over_rest']:.2f}× the REST cost per call."
        )
    chat_cost = results.get("chat")
    if chat_cost:
        lines.append(chat_cost_line(chat_cost))
    lines += live_lines(results)
    if results.get("checks"):
        # A failed check stops the run, so a report exists only when every check passed.
        lines.append(
            "- Contract checks before loading: all passed; the list JSON of both servers was identical."
        )
    return lines


def live_lines(results: dict[str, Any]) -> list[str]:
    """The `live` workload: delivery to open events streams beside `mixed`, and the outbox's cost."""
    lines = []
    live = results.get("live")
    if live:
        delivery, memory = live["delivery"], live["memory"]
        per_stream = (memory["streams_open"]["rss_kib"] - memory["idle"]["rss_kib"]) / max(
            delivery["opened"], 1
        )
        lines.append(
            f"- Live: {delivery['opened']:,} events streams open on the one worker "
            f"({delivery['errors']} refused or broken) while wrk ran `mixed` ({live['mixed']['rps']:.0f} 2xx req/s "
            f"beside them): {delivery['events']:,} events delivered, from the change's commit-time stamp to the "
            f"frame read by the client, p50 {ms(delivery['p50_ms'])} ms, p90 {ms(delivery['p90_ms'])} ms, "
            f"p99 {ms(delivery['p99_ms'])} ms, max {ms(delivery['max_ms'])} ms. The worker's resident memory: "
            f"{memory['idle']['rss_kib'] / 1024:.0f} MiB before the streams, "
            f"{memory['streams_open']['rss_kib'] / 1024:.0f} MiB with them open ({per_stream:.0f} KiB a stream), "
            f"{memory['after_mixed']['rss_kib'] / 1024:.0f} MiB after `mixed`."
        )
    outbox = results.get("outbox")
    if outbox:
        verdict = (
            "inside the run-to-run spread" if outbox["runs_overlap"] else "outside the run-to-run spread"
        )
        lines.append(
            f"- The outbox's cost: `mixed` on the service ran at {rps(outbox['with_outbox'])} 2xx req/s with its "
            f"triggers writing an event for every change, {rps(outbox['without_outbox'])} with them turned off "
            f"({outbox['change_percent']:+.0f}%, {verdict}); CPU per request "
            f"{outbox['with_outbox']['server_cpu_us_per_request']:.0f} µs against "
            f"{outbox['without_outbox']['server_cpu_us_per_request']:.0f} µs."
        )
    return lines


def chat_cost_line(chat_cost: dict[str, Any]) -> str:
    """The chat turn's cost in the service (`bench.chatcost`), the model's own time excluded."""
    return (
        "- A chat turn in the service, without the model's own time (the whole app over an ASGI client, "
        "SQLite, the scripted Chat Completions model in a process of its own answering at once; best of 7 "
        f"passes of {chat_cost['turns_per_pass']:.0f} turns, median in brackets): a turn answered with text "
        f"(one model call) {chat_cost['plain_cpu_us'] / 1000:.1f} ms of CPU "
        f"({chat_cost['plain_cpu_median_us'] / 1000:.1f}), {chat_cost['plain_wall_us'] / 1000:.1f} ms of wall "
        f"time ({chat_cost['plain_wall_median_us'] / 1000:.1f}); a turn with one `add_task` call (two model "
        f"calls) {chat_cost['tool_cpu_us'] / 1000:.1f} ms of CPU ({chat_cost['tool_cpu_median_us'] / 1000:.1f}), "
        f"{chat_cost['tool_wall_us'] / 1000:.1f} ms of wall time ({chat_cost['tool_wall_median_us'] / 1000:.1f}). "
        "Wall time is the turn's less the model server's own answering time: it keeps the loopback round "
        "trips to the model and the waits for SQLite's commits."
    )


def _targets_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["", "| Target (from the issue) | Goal | Measured | Met |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['target']} | {row['goal']} | {row['measured'] or 'n/a'} | {verdict(row)} |")
    return lines


def _targets_table(results: dict[str, Any]) -> list[str]:
    return _targets_lines(targets(results))


def _scale_section(results: dict[str, Any]) -> list[str]:
    scale = results.get("scale")
    if not scale:
        return []
    lines = [
        "",
        f"#### {scale['rows']:,} rows: lists of the user with {scale['heavy_tasks']:,} tasks",
        "",
        "One connection, sequential requests, each answer up to 100 tasks with the count for "
        "`X-Total-Count` (both servers answered each list alike, checked before the load):",
        "",
        "| List | Server | 2xx req/s | p50 ms | p99 ms | Errors (non-2xx / socket) | Other CPU % |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    measured = {"first page (`GET /api/tasks`)": scale["first_page"]} | {
        f"{name}: `?{lists['query']}` ({lists['matches']} on the page)": lists["runs"]
        for name, lists in scale.get("lists", {}).items()
    }
    for title, runs in measured.items():
        for name, run in runs.items():
            figures = (rps(run), ms(run["p50_ms"]), ms(run["p99_ms"]))
            lines.append(
                f"| {title} | {name} | {' | '.join(marked(figure, run) for figure in figures)} "
                f"| {errors(run)} | {run['other_cpu_percent']:.0f} |"
            )
    lines += _targets_lines([row for row in targets(results) if row["target"].startswith("1M rows")])
    for name, plan in scale["plans"].items():
        lines += [
            "",
            f"`EXPLAIN (ANALYZE, BUFFERS)` of the service's statement for the {name}:",
            "",
            "```",
            plan,
            "```",
        ]
    return lines


def profile_lines(results: dict[str, Any]) -> list[str]:
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
    runs = f"median of {repeat} alternating runs (range in brackets), " if repeat > 1 else ""
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
            "before every run; rate limits off. Errors count over all runs; a figure measured while any "
            "request failed is marked void."
        ),
        "",
    ]


def markdown(results: dict[str, Any]) -> str:
    """Everything this run measured, as Markdown."""
    scale = _scale_section(results)
    latency = latency_section(results)
    return (
        main_section(results)
        + ("\n" + latency if latency else "")
        + ("\n".join(scale) + "\n" if scale else "")
    )


def latency_section(results: dict[str, Any]) -> str:
    """Round trips and sequential p50 per endpoint behind the delay proxy (empty without the workload)."""
    latency = results.get("latency")
    if not latency:
        return ""
    machine, servers = results["machine"], latency["servers"]
    names = list(servers)
    rtt, target = latency["rtt_ms"], latency["target_ms"]
    lines = [
        (
            f"Measured {results['generated_at']} on {machine['cpu_model']}, {machine['cores']} cores, "
            f"{machine['memory_gib']} GiB RAM; PostgreSQL {machine['postgresql']}; Python {machine['python']}. "
            f"Reproduce: `uv run python -m bench --workloads latency` (`--rtt-ms` sets the round trip). "
            f"Each server reached PostgreSQL through the benchmark's delay proxy, adding {rtt:g} ms of round trip; "
            "one keep-alive connection, one request at a time, each endpoint requested "
            f"{_first(_first(servers))['requests']} times after a warm-up; writes act on a task made just before them."
        ),
        "",
        "Round trips to PostgreSQL per request, counted by the proxy (each Sync, Flush or simple Query message, which the client then waits on):",
        "",
        "| Endpoint | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    endpoints = list(_first(servers))
    for endpoint in endpoints:
        lines.append(
            f"| {endpoint} | "
            + " | ".join(f"{servers[name][endpoint]['round_trips']:g}" for name in names)
            + " |"
        )
    lines += [
        "",
        f"p50 ms of sequential requests behind {rtt:g} ms; target: under 1.5 × RTT + 3 ms = {target:g} ms:",
        "",
        "| Endpoint | "
        + " | ".join(f"{name} p50 ms" for name in names)
        + " | Failed requests | Met (service) |",
        "|---|" + "---:|" * len(names) + "---:|---|",
    ]
    for endpoint in endpoints:
        runs = [servers[name][endpoint] for name in names]
        failed = sum(run["failures"] for run in runs)
        service = servers.get("service", runs[0])[endpoint]
        met = "void" if service["failures"] else "yes" if service["p50_ms"] < target else "**no**"
        lines.append(
            f"| {endpoint} | " + " | ".join(ms(run["p50_ms"]) for run in runs) + f" | {failed} | {met} |"
        )
    return "\n".join(lines) + "\n"


def _first(servers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(iter(servers.values()))


def main_section(results: dict[str, Any]) -> str:
    """The throughput, latency, memory and target tables."""
    lines = [
        *_header(results),
        *_closed_loop_table(results),
        *_fixed_rate_table(results),
        *_notes(results),
        *_targets_table(results),
        *profile_lines(results),
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
