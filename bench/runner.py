"""The benchmark's steps: seed a template database once, then load each server on a fresh copy."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import chatcost, checks, db, jwtcost, latency, logcost, machine, mcpcost, pyspy, seed, sessioncost
from bench.cpu import CpuMeter
from bench.delay import DelayProxy
from bench.load import read_users
from bench.runs import combine, runs_overlap
from bench.servers import REPO, Server, start_ceiling, start_peer, start_service
from bench.wrk import ensure_wrk, run_wrk, wrk_version
from todo_api.db.query import CompiledStatement

KINDS = ("service", "ceiling")
SCAN_KINDS = ("Index Only Scan", "Bitmap Heap Scan", "Index Scan", "Seq Scan")
WORKLOADS = ("list", "mixed", "fixed", "info", "latency", "live")
# Open events streams on the one worker while `mixed` runs (the `live` workload).
LIVE_STREAMS = 1000
# The outbox's triggers (migration 0012), turned off to measure what writing events costs.
OUTBOX_TRIGGERS = ("task_event_on_insert_or_delete", "task_event_on_update")
# The service's default quota, given to both servers explicitly so they enforce the same one.
MAX_TASKS_PER_USER = 10_000


@dataclass(frozen=True)
class Options:
    """Everything a run can be told on the command line."""

    duration: float
    warmup: float
    connections: int
    rate: float
    fixed_seconds: float
    scale: bool
    load_users: int
    workloads: tuple[str, ...]
    profile: bool
    pin: bool
    pool_size: int
    max_overflow: int
    database: str
    results_dir: Path
    repeat: int = 1
    rtt_ms: float = 10.0


def say(message: str) -> None:
    """Progress on stderr, so stdout stays the Markdown table."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def cpu_pins(enabled: bool) -> tuple[list[str], list[str], str]:
    """taskset prefixes for the server and the load generator, and a sentence saying what was done."""
    cpus = sorted(os.sched_getaffinity(0))
    taskset = shutil.which("taskset")
    if not enabled or taskset is None or len(cpus) < 2:
        return [], [], "No CPU pinning: server, load generator and PostgreSQL share every core."
    server, load = str(cpus[0]), str(cpus[1])
    note = (
        f"The server was pinned to CPU {server} and the load generator to CPU {load} (taskset); "
        "PostgreSQL was not pinned, so it competes with both."
    )
    return [taskset, "-c", server], [taskset, "-c", load], note


# The heavy user's lists a --scale run measures beside the first page: a search for a word
# prefix ("gro" finds "groceries"), and their open high and urgent work tasks by due date.
SCALE_LISTS = {
    "search": "search=gro",
    "filtered list": "completed=false&priority=high,urgent&tags=work&sort=due_date",
}


def service_statements() -> dict[str, tuple[CompiledStatement, dict[str, Any]]]:
    """The statement the service runs (one per list: its page and, when the page is full, its
    count) for the first page and each of SCALE_LISTS, with its values but the owner."""
    from starlette.datastructures import QueryParams

    from todo_api.tasks.dependencies import list_filter
    from todo_api.tasks.statements import page_query

    queries = {"first page": ""} | SCALE_LISTS
    page = {"limit": 100, "offset": 0, "now": datetime.now(UTC)}
    statements = {}
    for name, query in queries.items():
        task_filter = list_filter(QueryParams(query))
        statements[name] = (page_query(task_filter.shape).postgres, task_filter.values | page)
    return statements


def scan_kind(plan: str) -> str:
    """How the plan reads the task table for the page: the first scan below its Limit (the
    count, an InitPlan, is printed above it)."""
    page = plan[plan.find("Limit") :]
    found = {kind: page.find(kind) for kind in SCAN_KINDS if kind in page}
    return min(found, key=found.__getitem__) if found else "unknown"


class Runner:
    """One benchmark run: prepare, load every server and workload, collect the results."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.admin_url = db.server_url()
        self.template = f"{options.database}_template"
        self.run_url = db.with_database(self.admin_url, options.database)
        # A fresh random key per run: it only ever lives in this process and the servers' env.
        self.secret = secrets.token_urlsafe(48)
        self.files = Path(tempfile.mkdtemp(prefix="todo-bench-"))
        self.logs = options.results_dir / "logs"
        self.server_pin, self.load_pin, self.pinning = cpu_pins(options.pin)
        self.dataset = seed.SCALE if options.scale else seed.DEFAULT
        self.load_file = self.files / "users.tsv"
        self.heavy_file = self.files / "heavy.tsv"
        self.check_results: dict[str, dict[str, bool]] = {}
        self.check_bodies: dict[str, Any] = {}
        # Each server's answer to each of SCALE_LISTS, which must agree.
        self.heavy_bodies: dict[str, dict[str, tuple[int, Any]]] = {}
        self.heavy_user_id: str | None = None
        self.wrk = ""

    def prepare(self) -> dict[str, Any]:
        """wrk present, template database migrated and seeded, token files written."""
        self.wrk = ensure_wrk()
        template_url = db.with_database(self.admin_url, self.template)
        say(f"creating {self.template} and applying the service's migrations")
        asyncio.run(db.recreate_database(self.admin_url, self.template))
        db.migrate(template_url)
        say(f"seeding {self.dataset.total_tasks:,} tasks with COPY")
        seeded = asyncio.run(seed.seed(template_url, self.dataset, load_users=self.options.load_users))
        say(f"seeded in {seeded.seconds:.1f} s")
        seed.write_load_file(self.load_file, seeded.users, self.secret)
        if seeded.heavy is not None:
            self.heavy_user_id = seeded.heavy.user_id
            seed.write_load_file(self.heavy_file, [seeded.heavy], self.secret)
        description = f"{self.dataset.users:,} users × {self.dataset.tasks_per_user} tasks"
        if self.dataset.heavy_tasks:
            description += f" + 1 user × {self.dataset.heavy_tasks:,}"
        return {
            "rows": seeded.rows,
            "description": description,
            "load_users": len(seeded.users),
            "seed_seconds": round(seeded.seconds, 2),
        }

    def env(self, log_level: str) -> dict[str, str]:
        """The servers' environment; settings that would change token checks are cleared.

        Rate limits are off: the load sends far more than one user's allowance per minute (the
        `--scale` first page is one user on one connection), so with them on it would measure 429s.
        """
        return os.environ | {
            "RATE_LIMIT_ENABLED": "false",
            "MAX_TASKS_PER_USER": str(MAX_TASKS_PER_USER),
            "DATABASE_URL": self.run_url,
            "BETTER_AUTH_SECRET": self.secret,
            "ENVIRONMENT": "production",
            "LOG_LEVEL": log_level,
            "DB_POOL_SIZE": str(self.options.pool_size),
            "DB_MAX_OVERFLOW": str(self.options.max_overflow),
            "JWT_ISSUER": "",
            "JWT_AUDIENCE": "",
            "BETTER_AUTH_URL": "",
            "JWKS_URL": "",
        }

    @contextmanager
    def server(
        self, kind: str, tag: str, log_level: str = "warning", env: dict[str, str] | None = None
    ) -> Iterator[Server]:
        """`kind` serving a fresh copy of the template database; contract checks on its first start."""
        server = self.start_server(kind, tag, log_level, env)
        try:
            if kind not in self.check_results:
                self.check_contract(kind, server)
            yield server
        finally:
            server.stop()

    def start_server(self, kind: str, tag: str, log_level: str, env: dict[str, str] | None = None) -> Server:
        """`kind` started on a fresh copy of the template database (`env` added to its environment)."""
        asyncio.run(db.recreate_database(self.admin_url, self.options.database, template=self.template))
        start = start_service if kind == "service" else start_ceiling
        return start(self.env(log_level) | (env or {}), self.logs / f"{kind}-{tag}.log", self.server_pin)

    def contract_checks(self, server: Server) -> tuple[dict[str, bool], Any]:
        """Each check's result on `server`, and the list body every server must agree on."""
        users = read_users(self.load_file)
        return checks.run_checks(server.url, users[0], users[1], self.secret)

    def check_contract(self, kind: str, server: Server) -> None:
        """The contract checks on `kind`; any failure, or lists that differ, stops the run."""
        try:
            results, body = self.contract_checks(server)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # An answer the checks cannot even read (not JSON, a missing field) is a failure too.
            raise checks.ContractBroken(
                f"bench: {kind} broke the contract checks ({type(exc).__name__}: {exc}); stopping. "
                f"Its log: {server.log}"
            ) from exc
        self.check_results[kind], self.check_bodies[kind] = results, body
        checks.require_passed(kind, results)
        first, *others = self.check_bodies.values()
        if any(other != first for other in others):
            raise checks.ContractBroken(
                f"bench: {' and '.join(self.check_bodies)} returned different lists for the same user; "
                "stopping, as one of them would be measured doing different work"
            )

    def load_for(self, server: Server) -> tuple[Path, str]:
        """The load file and the workload script's API for `server`."""
        return self.load_file, "service"

    def wrk_load(
        self, server: Server, mode: str, seconds: float, *, connections: int, load_file: Path | None = None
    ) -> dict[str, Any]:
        """One wrk run, with who used the CPU meanwhile."""
        default_file, api = self.load_for(server)
        meter = CpuMeter(server.pid)
        meter.start()
        result = asdict(
            run_wrk(
                self.wrk,
                server.url,
                load_file or default_file,
                mode,
                seconds=seconds,
                connections=connections,
                pin=self.load_pin,
                api=api,
            )
        )
        # CPU per 2xx answer, the same requests req/s counts.
        return result | meter.stop(result["ok_requests"])

    def warm(
        self, server: Server, mode: str, load_file: Path | None = None, connections: int | None = None
    ) -> None:
        """Unreported load: pools filled, code paths and caches warm."""
        if self.options.warmup > 0:
            default_file, api = self.load_for(server)
            run_wrk(
                self.wrk,
                server.url,
                load_file or default_file,
                mode,
                seconds=self.options.warmup,
                connections=connections or self.options.connections,
                pin=self.load_pin,
                api=api,
            )

    def closed_loop(self, kind: str, mode: str, log_level: str = "warning") -> dict[str, Any]:
        """wrk at full speed: throughput and latency under `options.connections` connections."""
        with self.server(kind, f"{mode}-{log_level}", log_level) as server:
            self.warm(server, mode)
            result = self.wrk_load(server, mode, self.options.duration, connections=self.options.connections)
            result["memory"] = server.memory_kib()
        say(
            f"{mode:5} {kind:7} (log {log_level}): {result['rps']:7.0f} 2xx/s  p50 {result['p50_ms']:6.2f} ms  "
            f"p99 {result['p99_ms']:6.2f} ms  non-2xx {result['non_2xx']}  socket errors {result['socket_errors']}"
        )
        return result

    def alternating(self, measurements: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        """`options.repeat` rounds over the measurements, alternating within a round so drift on a
        shared machine hits all alike; per label the runs combined (medians, errors summed)."""
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in measurements}
        for _ in range(self.options.repeat):
            for label, measure in measurements.items():
                runs[label].append(measure())
        return {label: combine(label_runs) for label, label_runs in runs.items()}

    def repeated(self, mode: str, variants: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """Closed-loop runs of `mode` for each variant (label: (kind, log level)), alternating."""
        return self.alternating(
            {
                label: functools.partial(self.closed_loop, kind, mode, log_level)
                for label, (kind, log_level) in variants.items()
            }
        )

    def fixed_rate(self, kind: str) -> dict[str, Any]:
        """The open-loop generator at `options.rate` req/s of `mixed`, in its own process."""
        with self.server(kind, "fixed") as server:
            self.warm(server, "mixed")
            command = [
                *self.load_pin,
                sys.executable,
                "-m",
                "bench.load",
                server.url,
                str(self.load_file),
                "--rate",
                str(self.options.rate),
                "--seconds",
                str(self.options.fixed_seconds),
                "--connections",
                str(self.options.connections),
            ]
            meter = CpuMeter(server.pid)
            meter.start()
            completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
            if completed.returncode != 0:
                raise RuntimeError(f"open-loop load failed: {completed.stderr.strip()[-2000:]}")
            result: dict[str, Any] = json.loads(completed.stdout)
            result |= meter.stop(result["ok_requests"])
        say(
            f"fixed {kind:7}: {result['achieved_rps']:.0f} 2xx/s  p50 {result['p50_ms']:.2f} ms  "
            f"p99 {result['p99_ms']:.2f} ms  p99.9 {result['p99_9_ms']:.2f} ms  "
            f"errors {result['non_2xx']}/{result['socket_errors']}"
        )
        return result

    def fixed_rates(self) -> dict[str, dict[str, Any]]:
        """Alternating fixed-rate runs of both servers."""
        return self.alternating({kind: functools.partial(self.fixed_rate, kind) for kind in KINDS})

    def heavy_list(self, kind: str, query: str | None) -> dict[str, Any]:
        """The heavy user's list (the first page, or with `query`), requested over one connection,
        one request at a time; its first answer is kept to compare with the other server's."""
        mode = "list" if query is None else f"list?{query}"
        with self.server(kind, "heavy-list") as server:
            if query is not None:
                token = read_users(self.heavy_file)[0].token
                answer = httpx.get(
                    f"{server.url}/api/tasks?{query}", headers={"Authorization": f"Bearer {token}"}
                )
                self.heavy_bodies.setdefault(query, {})[kind] = (answer.status_code, answer.json())
            self.warm(server, mode, self.heavy_file, connections=1)
            result = self.wrk_load(
                server, mode, self.options.duration, connections=1, load_file=self.heavy_file
            )
        say(
            f"{query or 'first page'} of the heavy user, {kind}: p50 {result['p50_ms']:.2f} ms  "
            f"non-2xx {result['non_2xx']}  socket errors {result['socket_errors']}"
        )
        return result

    def scale_checks(self) -> dict[str, Any]:
        """The 10k-task user's first page, search and filtered list: the service's plans, and
        latency on one sequential connection for both servers, which must answer alike."""
        assert self.heavy_user_id is not None
        asyncio.run(db.recreate_database(self.admin_url, self.options.database, template=self.template))
        plans = {
            name: asyncio.run(
                db.explain(
                    self.run_url, compiled.sql, *compiled.arguments(values | {"owner": self.heavy_user_id})
                )
            )
            for name, (compiled, values) in service_statements().items()
        }
        first_page = self.alternating(
            {kind: functools.partial(self.heavy_list, kind, None) for kind in KINDS}
        )
        lists = {}
        for name, query in SCALE_LISTS.items():
            runs = self.alternating({kind: functools.partial(self.heavy_list, kind, query) for kind in KINDS})
            first, *others = self.heavy_bodies[query].values()
            if any(other != first for other in others) or first[0] != 200 or not first[1]:
                raise checks.ContractBroken(
                    f"bench: the servers' answers to ?{query} differ or are empty; stopping, as one "
                    "of them would be measured doing different work"
                )
            lists[name] = {"query": query, "matches": len(first[1]), "runs": runs}
        return {
            "rows": self.dataset.total_tasks,
            "heavy_tasks": self.dataset.heavy_tasks,
            "plans": plans,
            "page_scan": scan_kind(plans["first page"]),
            "first_page": first_page,
            "lists": lists,
        }

    def latency(self) -> dict[str, Any]:
        """The service and the typical peer behind a delay proxy to PostgreSQL, one request at a time."""
        proxy = DelayProxy(*db.host_and_port(self.admin_url), self.options.rtt_ms)
        proxy.start()
        env = self.env("warning") | {"DATABASE_URL": db.with_host(self.run_url, "127.0.0.1", proxy.port)}
        users = read_users(self.load_file)
        servers: dict[str, dict[str, Any]] = {}
        try:
            for kind, start in (("service", start_service), ("peer", start_peer)):
                asyncio.run(
                    db.recreate_database(self.admin_url, self.options.database, template=self.template)
                )
                server = start(env, self.logs / f"{kind}-latency.log", self.server_pin)
                try:
                    self.check_results[kind], _ = checks.run_checks(
                        server.url, users[0], users[1], self.secret
                    )
                    checks.require_passed(kind, self.check_results[kind])
                    servers[kind] = latency.measure(server.url, users[0].token, proxy)
                finally:
                    server.stop()
                say(f"latency {kind:7}: {latency.summary(servers[kind])}")
        finally:
            proxy.stop()
        return {
            "rtt_ms": self.options.rtt_ms,
            "target_ms": latency.target_ms(self.options.rtt_ms),
            "servers": servers,
        }

    def profile(self, mode: str, log_level: str = "warning") -> dict[str, Any]:
        """py-spy on the service under `mode`; the collapsed stacks are kept next to the results."""
        name = mode if log_level == "warning" else f"{mode}-{log_level}"
        output = self.options.results_dir / f"profile-{name}.txt"
        with self.server("service", f"profile-{name}", log_level) as server:
            self.warm(server, mode)
            recorder = pyspy.start_recording(server.pid, self.options.duration, output)
            run_wrk(
                self.wrk,
                server.url,
                self.load_file,
                mode,
                seconds=self.options.duration,
                connections=self.options.connections,
                pin=self.load_pin,
            )
            _, errors = recorder.communicate(timeout=self.options.duration + 60)
        if recorder.returncode != 0 or not output.exists():
            raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace').strip()[-1000:]}")
        summary = pyspy.summarize(output)
        say(f"profile {name}: {summary['samples']} samples; top layers {summary['layers'][:4]}")
        return summary

    def live(self) -> dict[str, Any]:
        """LIVE_STREAMS open events streams on the service while wrk runs `mixed`: how long each
        change takes to reach its user's stream, what the streams cost in memory, and `mixed`
        beside them."""
        # The streams and wrk's connections, all within the worker's connection limit.
        room = {"LIMIT_CONCURRENCY": str(LIVE_STREAMS + 4 * self.options.connections)}
        with self.server("service", "live", env=room) as server:
            self.warm(server, "mixed")
            idle = server.memory_kib()
            command = [sys.executable, "-m", "bench.streams", server.url, str(self.load_file)]
            command += ["--streams", str(LIVE_STREAMS)]
            streams = subprocess.Popen(
                [*self.load_pin, *command],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert streams.stdin is not None and streams.stdout is not None
            opened = streams.stdout.readline().strip()
            with_streams = server.memory_kib()
            result = self.wrk_load(
                server, "mixed", self.options.duration, connections=self.options.connections
            )
            after = server.memory_kib()
            streams.stdin.close()
            delivery = json.loads(streams.stdout.readline())
            streams.wait(timeout=60)
        say(
            f"live: {opened}; mixed {result['rps']:.0f} 2xx/s beside them; delivery p50 "
            f"{delivery['p50_ms']} ms p99 {delivery['p99_ms']} ms over {delivery['events']} events"
        )
        return {
            "streams": LIVE_STREAMS,
            "delivery": delivery,
            "mixed": result,
            "memory": {"idle": idle, "streams_open": with_streams, "after_mixed": after},
        }

    def closed_loop_without_outbox(self, mode: str) -> dict[str, Any]:
        """`closed_loop` of the service on a copy whose outbox triggers are off (no events written)."""
        asyncio.run(db.recreate_database(self.admin_url, self.options.database, template=self.template))
        asyncio.run(
            db.run_statements(
                self.run_url, [f"ALTER TABLE task DISABLE TRIGGER {name}" for name in OUTBOX_TRIGGERS]
            )
        )
        server = start_service(
            self.env("warning"), self.logs / f"service-{mode}-no-outbox.log", self.server_pin
        )
        try:
            self.warm(server, mode)
            return self.wrk_load(server, mode, self.options.duration, connections=self.options.connections)
        finally:
            server.stop()

    def outbox_cost(self) -> dict[str, Any]:
        """`mixed` on the service with and without its outbox's triggers, alternating."""
        runs = self.alternating(
            {
                "with_outbox": functools.partial(self.closed_loop, "service", "mixed"),
                "without_outbox": functools.partial(self.closed_loop_without_outbox, "mixed"),
            }
        )
        with_rps, without_rps = runs["with_outbox"]["rps"], runs["without_outbox"]["rps"]
        runs["change_percent"] = 100 * (with_rps / max(without_rps, 1e-9) - 1)
        runs["runs_overlap"] = runs_overlap(runs["with_outbox"], runs["without_outbox"])
        return runs

    def run(self) -> dict[str, Any]:
        """Every step in order, then the databases and token files are removed whatever happened."""
        try:
            return self._run()
        finally:
            shutil.rmtree(self.files, ignore_errors=True)
            for name in (self.options.database, self.template):
                try:
                    asyncio.run(db.drop_database(self.admin_url, name))
                except (OSError, asyncpg.PostgresError) as exc:  # never hide the error that stopped the run
                    say(f"could not drop {name}: {exc}")

    def _run(self) -> dict[str, Any]:
        """Prepare, then every requested measurement; the dict report.py writes."""
        started = time.monotonic()
        self.options.results_dir.mkdir(parents=True, exist_ok=True)
        dataset = self.prepare()
        postgres = asyncio.run(db.server_version(db.with_database(self.admin_url, self.template)))
        results: dict[str, Any] = {
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine.describe(postgres, wrk_version(self.wrk)),
            "settings": asdict(self.options) | {"results_dir": None, "pinning": self.pinning},
            "dataset": dataset,
        }
        workloads = self.options.workloads
        closed: dict[str, dict[str, Any]] = {}
        for mode in ("list", "mixed"):
            if mode not in workloads:
                continue
            variants = {kind: (kind, "warning") for kind in KINDS}
            if mode == "list" and "info" in workloads:
                variants["service-info"] = ("service", "info")
            closed[mode] = self.repeated(mode, variants)
            service, ceiling = closed[mode]["service"], closed[mode]["ceiling"]
            closed[mode]["ratio"] = service["rps"] / max(ceiling["rps"], 1e-9)
            # From the median CPU per request of each server's runs: it moves far less than req/s
            # when other jobs share the machine.
            closed[mode]["cpu_ratio"] = ceiling["server_cpu_us_per_request"] / max(
                service["server_cpu_us_per_request"], 1e-9
            )
        info = closed.get("list", {}).pop("service-info", None)
        results["closed_loop"] = closed
        if "mixed" in closed:
            results["memory"] = {kind: closed["mixed"][kind]["memory"] for kind in KINDS}
        if info is not None:
            warning_rps = closed["list"]["service"]["rps"]
            results["log_cost"] = {
                "warning_rps": warning_rps,
                "info_rps": info["rps"],
                "change_percent": 100 * (info["rps"] / warning_rps - 1),
                "info_run": info,
                "runs_overlap": runs_overlap(info, closed["list"]["service"]),
                "void": info["void"] or closed["list"]["service"]["void"],
            } | logcost.measure()
        if "fixed" in workloads:
            results["fixed_rate"] = self.fixed_rates()
        if "latency" in workloads:
            results["latency"] = self.latency()
        if "live" in workloads:
            results["live"] = self.live()
            results["outbox"] = self.outbox_cost()
        if self.dataset.heavy_tasks:
            results["scale"] = self.scale_checks()
        results["jwt"] = jwtcost.measure([user.token for user in read_users(self.load_file)], self.secret)
        # On a fresh copy of the seeded database, as each server gets.
        asyncio.run(db.recreate_database(self.admin_url, self.options.database, template=self.template))
        results["session"] = sessioncost.measure(self.run_url, self.secret)
        results["mcp"] = mcpcost.measure()
        results["chat"] = chatcost.measure()
        if self.options.profile:
            results["profile"] = {
                "list": self.profile("list"),
                "mixed": self.profile("mixed"),
                "list-info": self.profile("list", "info"),
            }
        results["checks"] = {
            "results": self.check_results,
            "same_list_json": self.check_bodies.get("service") == self.check_bodies.get("ceiling"),
        }
        results["elapsed_seconds"] = round(time.monotonic() - started, 1)
        return results
