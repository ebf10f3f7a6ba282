"""How a test run behaves while mutmut runs one mutant (named in MUTANT_UNDER_TEST, the variable
mutmut sets for each mutant it runs); outside such a run none of this does anything.

**Killers first.** mutmut runs every test that reaches the mutated function, in no particular
order, and stops at the first failure. Mutants of one function are mostly killed by the same few
tests, and mutmut takes them one after another, so once a test has killed one of them it is
tried first for the next: a killed mutant then costs one test, not a random share of the
hundreds that reach the edge or the authenticator. Only the order changes, never which tests
run or what they assert. The killers are kept in a file beside the run's own state, one
`function<TAB>test` per line, appended whole by each worker process (two may write at once).

**Listed equivalents skipped, when asked.** A mutant listed as equivalent survives by
definition, so it runs every test that reaches it: minutes each for the edge's. With
`python -m mutation --skip-listed`, the listed names arrive in MUTATION_SKIP and such a mutant
ends its run at once with pytest's exit status 34, which mutmut records as "skipped"; the
report counts it as equivalent only while its listing still describes it.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

KILLERS = ".mutation-killers"
MUTANT_MARK = "__mutmut_"
# mutmut's exit status for a mutant it did not run ("skipped").
SKIPPED = 34


def _mutant_under_test() -> str | None:
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    return mutant if MUTANT_MARK in mutant else None


def _function_under_test() -> str | None:
    """`todo_api.auth.x_f__mutmut_3` → `todo_api.auth.x_f`; None outside a mutant's run."""
    mutant = _mutant_under_test()
    return mutant.rpartition(MUTANT_MARK)[0] if mutant is not None else None


def _killers_path(config: pytest.Config) -> Path:
    return config.rootpath / KILLERS


def _killers(config: pytest.Config, function: str) -> tuple[set[str], set[str]]:
    """The tests that killed a mutant of this function, and of any function of its module."""
    module = function.rpartition(".")[0]
    of_function: set[str] = set()
    of_module: set[str] = set()
    try:
        lines = _killers_path(config).read_text().splitlines()
    except FileNotFoundError:
        return of_function, of_module
    for line in lines:
        killed, _, test = line.partition("\t")
        if killed == function:
            of_function.add(test)
        if killed.rpartition(".")[0] == module:
            of_module.add(test)
    return of_function, of_module


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mutant = _mutant_under_test()
    if mutant is not None and mutant in os.environ.get("MUTATION_SKIP", "").split():
        pytest.exit("listed as equivalent: not run (python -m mutation --skip-listed)", returncode=SKIPPED)
    function = _function_under_test()
    if function is None:
        return
    of_function, of_module = _killers(config, function)
    # A stable sort: the function's killers, then its module's, then the rest as mutmut gave them.
    items.sort(key=lambda item: (item.nodeid not in of_function, item.nodeid not in of_module))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    function = _function_under_test()
    if function is not None and report.failed:
        line = f"{function}\t{item.nodeid}\n".encode()
        # One write to a file opened for appending lands whole, whichever worker writes it.
        descriptor = os.open(_killers_path(item.config), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
    return report
