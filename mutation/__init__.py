"""Mutation testing of the security-critical modules: mutmut runs, this package keeps the score.

`uv run --group mutation python -m mutation` runs mutmut over the modules `[tool.mutmut]` names,
checks every surviving mutant against the equivalents listed (with their reasons) in
`mutation/equivalent/*.toml`, and prints the score per module. `--update-docs` writes the table
and the equivalents into docs/mutation.md.
"""
