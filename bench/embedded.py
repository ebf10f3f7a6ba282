"""`--embedded`: the service on its zero-setup SQLite default against PocketBase, same data and load.

Both are embedded-database servers with one writer, so each gets one core (taskset) and the
load generator the other; no PostgreSQL is involved. The seeded SQLite file and PocketBase's
seeded data directory are the templates: every run starts from a fresh copy of its own.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import checks, db, machine, pocketbase, report, seed
from bench.load import read_users
from bench.runner import Runner, say
from bench.runs import is_void
from bench.servers import Server, start_service
from bench.wrk import ensure_wrk, wrk_version

KINDS = ("service", "pocketbase")
# The markers of its generated section in docs/performance.md.
SECTION = "embedded"
MODES = ("list", "mixed")


class EmbeddedRunner(Runner):
    """The service on SQLite and PocketBase, alternating, on copies of the same seeded data."""

    pocketbase_data: Path
    pocketbase_load: Path
    pocketbase_version: str

    @property
    def sqlite_template(self) -> Path:
        return self.files / "service-template.db"

    def prepare(self) -> dict[str, Any]:
        """wrk present, the SQLite template migrated and seeded, PocketBase seeded through its API."""
        self.wrk = ensure_wrk()
        template = self.sqlite_template
        say("migrating a SQLite database with the service's migrations and seeding it")
        started = time.perf_counter()
        db.migrate(f"sqlite:///{template}")
        users = seed.seed_sqlite(template, self.dataset)
        seed.write_load_file(self.load_file, users, self.secret)
        say(f"SQLite seeded in {time.perf_counter() - started:.1f} s; seeding PocketBase through its API")
        prepared = pocketbase.prepare(self.files, self.dataset, self.logs)
        say(f"PocketBase {prepared.version} seeded in {prepared.seconds:.1f} s")
        self.pocketbase_data, self.pocketbase_load = prepared.data, prepared.load_file
        self.pocketbase_version = prepared.version
        return {
            "rows": self.dataset.total_tasks,
            "description": f"{self.dataset.users:,} users × {self.dataset.tasks_per_user} tasks",
            "load_users": len(users),
            "seed_seconds": round(prepared.seconds, 2),
        }

    def load_for(self, server: Server) -> tuple[Path, str]:
        if server.name == "pocketbase":
            return self.pocketbase_load, "pocketbase"
        return self.load_file, "service"

    def env(self, log_level: str) -> dict[str, str]:
        return super().env(log_level) | {"DATABASE_URL": f"sqlite:///{self.files / 'service-run.db'}"}

    def start_server(self, kind: str, tag: str, log_level: str, env: dict[str, str] | None = None) -> Server:
        """`kind` started on a fresh copy of its own seeded data (`env` added to the service's)."""
        log = self.logs / f"embedded-{kind}-{tag}.log"
        if kind == "pocketbase":
            data = self.files / "pocketbase-run"
            shutil.rmtree(data, ignore_errors=True)
            shutil.copytree(self.pocketbase_data, data)
            return pocketbase.start_pocketbase(data, log, self.server_pin)
        run = self.files / "service-run.db"
        for leftover in run.parent.glob(f"{run.name}*"):
            leftover.unlink()
        shutil.copyfile(self.sqlite_template, run)
        return start_service(self.env(log_level) | (env or {}), log, self.server_pin)

    def contract_checks(self, server: Server) -> tuple[dict[str, bool], Any]:
        """Each server's own contract; both must list the same titles for the same seeded user."""
        if server.name == "pocketbase":
            users = read_users(self.pocketbase_load)
            return checks.run_pocketbase_checks(server.url, users[0], users[1])
        results, body = super().contract_checks(server)
        return results, sorted(task["title"] for task in body)

    def run(self) -> dict[str, Any]:
        """Every step in order; the copies and token files are removed whatever happened."""
        try:
            return self._run_embedded()
        finally:
            shutil.rmtree(self.files, ignore_errors=True)

    def _run_embedded(self) -> dict[str, Any]:
        started = time.monotonic()
        self.options.results_dir.mkdir(parents=True, exist_ok=True)
        dataset = self.prepare()
        described = machine.describe("not used", wrk_version(self.wrk))
        described |= {"sqlite": sqlite3.sqlite_version, "pocketbase": self.pocketbase_version}
        results: dict[str, Any] = {
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": described,
            "settings": asdict(self.options) | {"results_dir": None, "pinning": self.pinning},
            "dataset": dataset,
        }
        embedded: dict[str, dict[str, Any]] = {}
        for mode in MODES:
            if mode not in self.options.workloads:
                continue
            embedded[mode] = self.repeated(mode, {kind: (kind, "warning") for kind in KINDS})
            service, other = embedded[mode]["service"], embedded[mode]["pocketbase"]
            embedded[mode]["ratio"] = service["rps"] / max(other["rps"], 1e-9)
            embedded[mode]["cpu_ratio"] = other["server_cpu_us_per_request"] / max(
                service["server_cpu_us_per_request"], 1e-9
            )
        results["embedded"] = embedded
        if self.options.profile:
            results["profile"] = {mode: self.profile(mode) for mode in MODES if mode in embedded}
        results["checks"] = {"results": self.check_results, "same_titles": True}
        results["elapsed_seconds"] = round(time.monotonic() - started, 1)
        return results


def markdown(results: dict[str, Any]) -> str:
    """The comparison table and its targets, as docs/performance.md shows them."""
    machine_info, settings = results["machine"], results["settings"]
    repeat = settings.get("repeat", 1)
    runs = f"median of {repeat} alternating runs (range in brackets), " if repeat > 1 else ""
    lines = [
        (
            f"Measured {results['generated_at']} on {machine_info['cpu_model']}, {machine_info['cores']} cores, "
            f"{machine_info['memory_gib']} GiB RAM; SQLite {machine_info['sqlite']}; PocketBase "
            f"{machine_info['pocketbase']}; Python {machine_info['python']}; {machine_info['wrk']}. "
            f"{settings['pinning'].split(';')[0]}."
        ),
        "",
        (
            f"Data: {results['dataset']['rows']:,} tasks ({results['dataset']['description']}) in each server's "
            f"own database, copied fresh before every run; load: {settings['connections']} connections, {runs}"
            f"{settings['duration']:.0f} s per run after {settings['warmup']:.0f} s of warm-up, each request as "
            "the next of 1,000 users. Reproduce: `uv run --group bench python -m bench --embedded --repeat 3`."
        ),
        "",
        "| Workload | Server | 2xx req/s | p50 ms | p99 ms | Errors (non-2xx / socket) | Server CPU µs/req | Other CPU % |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    targets = ["", "| Target (from the issue) | Goal | Measured | Met |", "|---|---|---|---|"]
    for mode, pair in results["embedded"].items():
        for kind in KINDS:
            run = pair[kind]
            cpu = f"{run['server_cpu_us_per_request']:.0f}"
            figures = (report.rps(run), report.ms(run["p50_ms"]), report.ms(run["p99_ms"]))
            lines.append(
                f"| {mode} | {kind} | {' | '.join(report.marked(figure, run) for figure in figures)} "
                f"| {report.errors(run)} | {report.marked(cpu, run)} | {run['other_cpu_percent']:.0f} |"
            )
        both = (pair["service"], pair["pocketbase"])
        ratio = report.marked(f"**{pair['ratio']:.2f}**", *both)
        cpu_ratio = report.marked(f"**{pair['cpu_ratio']:.2f}**", *both)
        lines.append(
            f"| **{mode}** | **service / PocketBase** | {ratio} | | | | {cpu_ratio} (PocketBase ÷ service) | |"
        )
        void = any(is_void(run) for run in both)
        met = "**void** (requests failed)" if void else ("yes" if pair["ratio"] >= 1.0 else "**no**")
        targets.append(
            f"| {mode}: service on SQLite / PocketBase throughput | >= 1.0 | {pair['ratio']:.2f}; "
            f"CPU per request {pair['cpu_ratio']:.2f} | {met} |"
        )
    lines += targets
    lines += [
        "",
        "- Contract checks before loading: all passed on both (PocketBase's own are listed above); "
        "both listed the same titles for the same seeded user.",
    ]
    lines += report.profile_lines(results)
    return "\n".join(lines) + "\n"
