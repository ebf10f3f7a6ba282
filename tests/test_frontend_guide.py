"""docs/frontend.md shows only code that exists: each code block is a piece of the file it names.

The example app and the typed client are what the interop tests build and run, so a block
found here verbatim (up to its indentation) is code those tests exercise.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "frontend.md"
BLOCK = re.compile(r"^```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# The first line names the file: `// examples/nextjs/lib/auth.ts` or `# clients/typescript/README.md`.
SOURCE = re.compile(r"^(?://|#) ((?:examples/nextjs|clients/typescript)/\S+)$")


def blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text())


def appears_in(snippet: list[str], lines: list[str]) -> bool:
    """Whether `snippet` is a run of `lines`, compared without their common indentation."""
    wanted = textwrap.dedent("\n".join(snippet))
    return any(
        textwrap.dedent("\n".join(lines[start : start + len(snippet)])) == wanted
        for start in range(len(lines) - len(snippet) + 1)
    )


def test_the_guide_has_code_blocks() -> None:
    assert len(blocks()) >= 15


@pytest.mark.parametrize("block", blocks(), ids=lambda block: block.splitlines()[0])
def test_every_code_block_is_in_the_file_it_names(block: str) -> None:
    first, *snippet = block.rstrip("\n").splitlines()
    source = SOURCE.match(first)
    assert source, f"a code block must name its file in its first line, not {first!r}"
    path = ROOT / source.group(1)
    assert path.is_file(), f"{source.group(1)} does not exist"
    assert snippet, f"the block for {source.group(1)} is empty"
    assert appears_in(snippet, path.read_text().splitlines()), (
        f"this block is not in {source.group(1)}:\n{block}"
    )


def test_a_changed_line_is_caught() -> None:
    lines = ["function f() {", "  return 1;", "}"]

    assert appears_in(["  return 1;", "}"], lines)
    assert not appears_in(["  return 2;", "}"], lines)
