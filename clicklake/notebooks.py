"""The lake for Jupyter: a read-only connection that jupysql's `%sql` can query directly.

jupysql runs every query on a fresh `cursor()` of the connection it is given, and a DuckDB
cursor starts on the in-memory database, not on the attached lake, so `mart.daily_kpis` would
not resolve. `connect()` here wraps `clicklake.lake.connect(read_only=True)` so that each
cursor starts on the lake, the same way the pipeline's worker threads do.
"""

from __future__ import annotations

from typing import Any

import duckdb

from clicklake.config import Settings
from clicklake.lake import connect as connect_lake


class LakeConnection:
    """A DuckDB connection to the lake whose cursors also start on the lake.

    Everything but `cursor()` is the wrapped connection's own (`sql`, `execute`, `df`, `close`
    ...), so it also works as a plain DuckDB connection in Python cells.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self._con.cursor()
        cur.execute("use lake")
        return cur

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def connect(settings: Settings | None = None) -> LakeConnection:
    """Open the lake read-only for a notebook: pass the result to `%sql con`.

    Settings come from the environment and `.env` like everywhere else (`CLICKLAKE_HOME` for
    the embedded lake, the Postgres catalog and S3 settings on servers). Raises `LakeError`
    with a one-line reason when there is no lake yet or the catalog is unreachable.
    """
    return LakeConnection(connect_lake(read_only=True, settings=settings))
