"""Benchmark of todo-api against a bare Starlette + asyncpg ceiling; run with `python -m bench`."""
