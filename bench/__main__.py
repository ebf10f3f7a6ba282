"""`uv run python -m bench`: load todo-api and its bare ceiling on the same data, report both."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench import report
from bench.runner import WORKLOADS, Options, Runner, say

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"

DESCRIPTION = """\
Benchmark todo-api against a ceiling server (bare Starlette + asyncpg + PyJWT + orjson).

Uses PostgreSQL at BENCH_DATABASE_URL (default: postgresql://postgres@127.0.0.1:5432/postgres;
the database named there is only used to CREATE/DROP others). DROPS AND RECREATES the databases
named by --database and --database + "_template". Installs wrk from Debian's package if missing.
Writes bench/results/latest.json and latest.md; --update-docs also rewrites the results section
of docs/performance.md. --embedded compares the service on SQLite with PocketBase instead (no
PostgreSQL; run it as `uv run --group bench python -m bench --embedded`, which installs PocketBase);
--with-embedded runs both, one after the other: every table of docs/performance.md but --scale's.
Rate limits are off for the service; a failed contract check stops the run.
"""


def parse_options(argv: list[str] | None = None) -> tuple[Options, bool, str]:
    """Options from the command line, whether to update docs/performance.md, and which runs:
    "postgresql", "embedded" or "both"."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per measured wrk run (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unreported seconds of load before a run (default 2)"
    )
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per server and workload, alternating; medians are reported (default 1)",
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="req/s offered by the fixed-rate run (default 200)"
    )
    parser.add_argument(
        "--fixed-seconds", type=float, default=20.0, help="length of the fixed-rate run (default 20)"
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated subset of list,mixed,fixed,info,latency (info = list at LOG_LEVEL=info; needs list)",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="1,000,000 tasks (99,000 users × 10 + one user × 10,000) and the first-page check; seeding takes a minute",
    )
    parser.add_argument(
        "--load-users",
        type=int,
        default=None,
        help="users the load cycles through (default 1000, 5000 with --scale)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also sample the service with py-spy (list, mixed, list at info)",
    )
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not pin server and load to CPUs"
    )
    parser.add_argument(
        "--pool-size", type=int, default=10, help="DB_POOL_SIZE for both servers (default 10)"
    )
    parser.add_argument(
        "--max-overflow", type=int, default=10, help="DB_MAX_OVERFLOW for both servers (default 10)"
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=10.0,
        help="round trip the latency workload's delay proxy adds to PostgreSQL (default 10)",
    )
    parser.add_argument(
        "--database", default="todo_bench", help="database made for the runs (default todo_bench)"
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="instead: the service on SQLite against PocketBase (list, mixed; needs `uv run --group bench`)",
    )
    parser.add_argument(
        "--with-embedded",
        action="store_true",
        help="then the PocketBase comparison too (needs `uv run --group bench`)",
    )
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite the results section of docs/performance.md"
    )
    args = parser.parse_args(argv)
    workloads = tuple(name.strip() for name in args.workloads.split(",") if name.strip())
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    if "info" in workloads and "list" not in workloads:
        parser.error("the info workload is compared with list; add list")
    options = Options(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        rate=args.rate,
        fixed_seconds=args.fixed_seconds,
        scale=args.scale,
        load_users=args.load_users or (5000 if args.scale else 1000),
        workloads=workloads,
        profile=args.profile,
        pin=args.pin,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        database=args.database,
        results_dir=RESULTS_DIR,
        repeat=max(1, args.repeat),
        rtt_ms=args.rtt_ms,
    )
    if args.embedded and args.with_embedded:
        parser.error("--embedded runs only the PocketBase comparison; --with-embedded adds it to the rest")
    runs = "embedded" if args.embedded else "both" if args.with_embedded else "postgresql"
    return options, args.update_docs, runs


def doc_sections(results: dict[str, Any], *, scale: bool) -> list[tuple[str, str]]:
    """The generated sections of docs/performance.md this run measured: a --scale run only the
    1M-row section; otherwise the throughput tables and the latency tables, each if it ran."""
    if scale:
        return [(report.SCALE_SECTION, report.scale_section(results))]
    sections = []
    if results.get("closed_loop") or results.get("fixed_rate"):
        sections.append((report.MAIN_SECTION, report.main_section(results)))
    if results.get("latency"):
        sections.append((report.LATENCY_SECTION, report.latency_section(results)))
    return sections


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write the results, print the Markdown table."""
    options, update_docs, runs = parse_options(argv)
    if runs == "embedded":
        return _embedded(options, update_docs)
    if runs == "both":
        from bench import pocketbase

        pocketbase.binary()  # before the long PostgreSQL run: a missing PocketBase stops it now
    results = Runner(options).run()
    json_path, _ = report.write(results, options.results_dir)
    section = report.markdown(results)
    print(section)
    say(
        f"results in {json_path.relative_to(Path.cwd()) if json_path.is_relative_to(Path.cwd()) else json_path}"
    )
    if update_docs:
        for name, body in doc_sections(results, scale=options.scale):
            if not report.update_doc(DOC, name, body):
                say(f"{DOC.name} has no '{name}' markers; not updated")
    say(f"done in {results['elapsed_seconds']:.0f} s")
    return _embedded(options, update_docs) if runs == "both" else 0


def _embedded(options: Options, update_docs: bool) -> int:
    """The PocketBase comparison: its own results file and its own section of the doc."""
    from bench import embedded

    results = embedded.EmbeddedRunner(options).run()
    options.results_dir.mkdir(parents=True, exist_ok=True)
    (options.results_dir / "embedded.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    section = embedded.markdown(results)
    (options.results_dir / "embedded.md").write_text(section)
    print(section)
    if update_docs and not report.update_doc(DOC, embedded.SECTION, section):
        say(f"{DOC.name} has no '{embedded.SECTION}' markers; not updated")
    say(f"done in {results['elapsed_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
