"""Run mutmut, judge its survivors against the listed equivalents, report per module.

Exit status 0 when every mutant is killed or listed as equivalent (and the listing still
describes the mutant it names), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# One file per area (mutation/equivalent/*.toml), so that work on one area never edits another's.
EQUIVALENTS = ROOT / "mutation" / "equivalent"
DOC = ROOT / "docs" / "mutation.md"
MARK_START, MARK_END = "<!-- mutation:results:start -->", "<!-- mutation:results:end -->"

# mutmut's words for an outcome. A timeout is a kill: the mutant made the code loop or wait, and
# the test that ran it failed for it. Everything not a kill must be explained.
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
# Not run yet (an interrupted run continues where it stopped): neither killed nor survived.
PENDING = {"not checked", "check was interrupted by user"}
# Not run on purpose: a listed equivalent under --skip-listed (tests/mutation_plugin.py).
SKIPPED = "skipped"


@dataclass(frozen=True)
class Equivalent:
    mutant: str
    change: str
    reason: str


def mutmut(*args: str, capture: bool = True, env: dict[str, str] | None = None) -> str:
    """Run one mutmut command in the repository; its output when captured."""
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=ROOT,
        check=True,
        text=True,
        capture_output=capture,
        env=env,
    )
    return done.stdout if capture else ""


def outcomes() -> dict[str, str]:
    """Every mutant's name and mutmut's verdict on it."""
    verdicts = {}
    for line in mutmut("results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            verdicts[name] = status
    return verdicts


def changed_lines(mutant: str) -> str:
    """The mutant's change as its removed and added lines, stripped: how an equivalent is pinned."""
    diff = mutmut("show", mutant)
    lines = [
        line[0] + " " + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return "\n".join(lines)


def equivalents() -> dict[str, Equivalent]:
    listed = [
        entry
        for path in sorted(EQUIVALENTS.glob("*.toml"))
        for entry in tomllib.loads(path.read_text()).get("equivalent", [])
    ]
    return {
        entry["mutant"]: Equivalent(entry["mutant"], entry["change"].strip(), entry["reason"].strip())
        for entry in listed
    }


def module_of(mutant: str) -> str:
    """`todo_api.tasks.service.x_f__mutmut_3` → `tasks/service.py` (a method's key joins class
    and name without a dot, so the last dot ends the module)."""
    return mutant.rpartition(".")[0].removeprefix("todo_api.").replace(".", "/") + ".py"


def score(verdicts: dict[str, str], listed: dict[str, Equivalent]) -> tuple[list[str], list[str], list[str]]:
    """The per-module table's rows, the unexplained survivors, and stale listings."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    unexplained, stale = [], []
    for mutant, status in sorted(verdicts.items()):
        module = module_of(mutant)
        counts[module]["mutants"] += 1
        if status in KILLED:
            counts[module]["killed"] += 1
        elif status in PENDING:
            counts[module]["pending"] += 1
        elif mutant in listed and changed_lines(mutant) == listed[mutant].change:
            counts[module]["equivalent"] += 1
            counts[module]["skipped"] += status == SKIPPED
        else:
            counts[module]["survived"] += 1
            unexplained.append(f"{mutant} ({status})")
    stale = [name for name in listed if name not in verdicts or verdicts[name] in KILLED]
    rows = [
        "| Module | Mutants | Killed | Equivalent | Survived | Not run yet |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    total: Counter[str] = Counter()
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        rows.append(_row(f"`{module}`", c))
    rows.append(_row("**all**", total))
    return rows, unexplained, stale


def _row(name: str, c: Counter[str]) -> str:
    # Equivalents skipped this run (--skip-listed) are counted, and said to be taken on their listing.
    equivalent = f"{c['equivalent']} ({c['skipped']} not run)" if c["skipped"] else str(c["equivalent"])
    cells = (c["mutants"], c["killed"], equivalent, c["survived"], c["pending"])
    return f"| {name} | " + " | ".join(str(cell) for cell in cells) + " |"


def equivalents_section(listed: dict[str, Equivalent]) -> list[str]:
    lines = []
    for entry in sorted(listed.values(), key=lambda each: each.mutant):
        lines += [f"- `{entry.mutant}`: {entry.reason}", "", "  ```diff"]
        lines += [f"  {line}" for line in entry.change.splitlines()]
        lines += ["  ```", ""]
    return lines


def update_doc(body: str) -> None:
    text = DOC.read_text()
    head, rest = text.split(MARK_START, 1)
    _, tail = rest.split(MARK_END, 1)
    DOC.write_text(f"{head}{MARK_START}\n{body}{MARK_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    parser.add_argument("--no-run", action="store_true", help="report the last run without running mutmut")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--update-docs", action="store_true", help="rewrite the results in docs/mutation.md")
    parser.add_argument(
        "--skip-listed",
        action="store_true",
        help="do not run the mutants listed as equivalent (each would run every test that reaches it)",
    )
    parser.add_argument("mutants", nargs="*", help="only these mutants (mutmut's names or globs)")
    args = parser.parse_args(argv)
    listed = equivalents()
    if not args.no_run:
        # Read by tests/mutation_plugin.py in mutmut's workers, which inherit the environment.
        env = os.environ | {"MUTATION_SKIP": " ".join(listed) if args.skip_listed else ""}
        mutmut("run", "--max-children", str(args.max_children), *args.mutants, capture=False, env=env)
    verdicts = outcomes()
    rows, unexplained, stale = score(verdicts, listed)
    print("\n".join(rows))
    for mutant in unexplained:
        print(f"survived: {mutant}   (mutmut show {mutant.split(' ')[0]})")
    for mutant in stale:
        print(f"listed as equivalent but killed or gone: {mutant}")
    if args.update_docs:
        body = "\n".join([*rows, "", "### Equivalent mutants", "", *equivalents_section(listed)])
        update_doc(body + "\n")
    not_run = any(status in PENDING for status in verdicts.values())
    return 1 if unexplained or stale or not_run else 0


if __name__ == "__main__":
    raise SystemExit(main())
