"""Under mutation testing, the tests that killed earlier mutants of a function run first.

mutmut runs every test that reaches the mutated function, in no particular order, and stops at
the first failure. Mutants of one function are mostly killed by the same few tests, and mutmut
takes them one after another, so once a test has killed one of them it is tried first for the
next: a killed mutant then costs one test, not a random share of the hundreds that reach the
edge or the authenticator. Only the order changes, never which tests run or what they assert;
outside a mutation run (no mutant in MUTANT_UNDER_TEST, the variable mutmut sets for each
mutant it runs) this does nothing.

The killers are kept in a file beside the run's own state, one `function<TAB>test` per line,
appended whole by each worker process (two workers may write at once).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

KILLERS = ".mutation-killers"
MUTANT_MARK = "__mutmut_"


def _function_under_test() -> str | None:
    """`todo_api.auth.x_f__mutmut_3` → `todo_api.auth.x_f`; None outside a mutant's run."""
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    function, mark, _ = mutant.rpartition(MUTANT_MARK)
    return function if mark else None


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
    function = _function_under_test()
    if function is None:
        return
    of_function, of_module = _killers(config, function)
    # A stable sort: the function's killers, then its module's, then the rest as mutmut gave them.
    items.sort(key=lambda item: (item.nodeid not in of_function, item.nodeid not in of_module))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
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
