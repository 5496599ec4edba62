"""The lake for Jupyter: a read-only connection that jupysql's `%sql` can query directly.

jupysql runs every query on a fresh `cursor()` of the connection it is given, and a DuckDB
cursor starts on the in-memory database, not on the attached lake, so `mart.daily_kpis` would
not resolve. `connect()` here wraps `clicklake.lake.connect(read_only=True)` so that each
cursor starts on the lake, the same way the pipeline's worker threads do.

A kernel starts in the notebook's own folder, not in the project's root where `make demo` put
`.clicklake` and where `.env` lives, so `connect()` works from the project's root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from clicklake import formatting
from clicklake.config import Settings, load_settings
from clicklake.lake import connect as connect_lake

_ROOT_MARKERS = (".clicklake", ".env", "pyproject.toml")


class LakeConnection:
    """A DuckDB connection to the lake whose cursors also start on the lake.

    Everything but `cursor()` is the wrapped connection's own (`sql`, `execute`, `df`, `close`
    ...), so it also works as a plain DuckDB connection in Python cells; `settings` says which
    lake it is.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
        self._con = con
        self.settings = settings

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self._con.cursor()
        cur.execute("use lake")
        return cur

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def project_root(start: Path) -> Path | None:
    """The nearest of `start` and its parents holding `.clicklake`, `.env` or pyproject.toml."""
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in _ROOT_MARKERS):
            return folder
    return None


def connect(settings: Settings | None = None) -> LakeConnection:
    """Open the lake read-only for a notebook: pass the result to `%sql con`.

    Without `settings`, the kernel moves to the project's root (see `project_root`) and reads
    the settings from there exactly as the `clicklake` CLI does: the environment, then `.env`,
    then the defaults (the embedded lake `make demo` built under `.clicklake`; Postgres and
    MinIO in docker compose). It has to move, not just find the files: an embedded catalog
    made with a relative `CLICKLAKE_HOME` stores a relative data path, which DuckDB resolves
    against the working folder on every query. Raises `LakeError` with a one-line reason when
    there is no lake yet or the catalog is unreachable.
    """
    if settings is None:
        root = project_root(Path.cwd())
        if root is not None:
            os.chdir(root)
        settings = load_settings()
    return LakeConnection(connect_lake(read_only=True, settings=settings), settings)


# columns that are identifiers or positions, not quantities: shown as they are
_AS_IS = ("_id", "_order", "week_number")


def show(df: pd.DataFrame, currency: str | None = None) -> pd.DataFrame:
    """`df` as the dashboard shows it (`clicklake.formatting`), for a notebook cell's output:
    human column names, money with the `CLICKLAKE_CURRENCY` and separators, rates with one
    decimal, counts with separators, countries named beside their code. The numbers become
    text: keep `df` for any further computing."""
    out = df.copy()
    for col in out.columns:
        if col in ("country", "geo_country"):
            out[col] = out[col].map(formatting.country)
        elif (pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col])
              and not col.endswith(_AS_IS)):
            out[col] = [formatting.value(col, v, currency) for v in out[col]]
    return out.rename(columns=formatting.label)


def format_axis(axis: Any, column: str, currency: str | None = None) -> None:
    """Label a matplotlib axis's ticks as the dashboard shows `column`'s numbers (money with
    the currency, rates as percentages, counts with separators): `format_axis(ax.xaxis,
    "revenue")`."""
    from matplotlib.ticker import FuncFormatter

    decimals = 0 if formatting.kind(column) == "money" else None
    if decimals == 0:
        axis.set_major_formatter(FuncFormatter(
            lambda v, _: formatting.money(v, currency, decimals=0)))
    else:
        axis.set_major_formatter(FuncFormatter(lambda v, _: formatting.value(column, v)))
