"""The database layer: engines and pools (`engine`), statements compiled once (`query`), and
one `Connection` with a driver per database and the unit of work (`connection`).

Features import from here; nothing here imports a feature or the web framework.
"""
