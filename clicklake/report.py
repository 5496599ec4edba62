"""What the CLI shows: status tables, the demo's comparison with the generator's truth."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
from rich.table import Table

from clicklake import sources
from clicklake.lake import SQL_DIR
from clicklake.sqltext import header
from clicklake.sqltext import sections as sql_sections

KPIS = ("events", "sessions", "visitors", "pageviews", "add_to_carts", "orders", "revenue")

NEXT_STEPS = """
[bold]What to open next[/bold]
  .venv/bin/clicklake query "select * from mart.daily_kpis"        the daily KPIs
  .venv/bin/clicklake query "from stage.sessions limit 10"          one row per visit
  .venv/bin/clicklake query "select reason, count(*) from ops.rejected_rows group by all"
  .venv/bin/clicklake status                                        freshness, counts, runs
  .venv/bin/clicklake docs                                          every model and column
  make dashboard                                                    the Streamlit dashboard
  make notebook                                                     Jupyter: raw and marts
  make airflow                                                      the hourly DAG, locally
  sql/                                                              every model, plain SQL
"""


def table(columns: list[str], rows: list[tuple], title: str | None = None) -> Table:
    """A rich table; numbers right-aligned with thousands separators."""
    t = Table(title=title, title_justify="left", header_style="bold")
    numeric = [bool(rows) and isinstance(rows[0][i], int | float | Decimal) for i in
               range(len(columns))]
    for name, num in zip(columns, numeric, strict=True):
        t.add_column(name, justify="right" if num else "left")
    for row in rows:
        t.add_row(*(_fmt(v) for v in row))
    return t


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return str(value)


def status(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[list[str], list[tuple]]]:
    """Freshness per stream, rows per table, rejected rows by reason, last runs, failed checks."""
    sections = {}
    board = sql_sections((SQL_DIR / "dashboard.sql").read_text())
    for title, query in sql_sections((SQL_DIR / "status.sql").read_text(), "section").items():
        # `-- dashboard: <query>`: the section reads the dashboard's query of that name, so the
        # terminal and the data health page judge alike
        shared = header(query).get("dashboard")
        if shared:
            query = f"with {shared} as ({board[shared]})\n{query}"
        try:
            # the source registry, for the sections that judge streams by their format
            params = {"sources": sources.as_json(), "limit": 50}
            cur = con.execute(query, {k: v for k, v in params.items() if f"${k}" in query}
                              or None)
        except duckdb.CatalogException:  # a layer not built yet
            continue
        sections[title] = ([d[0] for d in cur.description], cur.fetchall())
    counts = []
    for schema, name in con.execute(
        "from (select schema_name, table_name from duckdb_tables() where database_name = 'lake' "
        "union all select schema_name, view_name from duckdb_views() "
        "where database_name = 'lake' and not internal) "
        "order by array_position(['raw', 'stage', 'mart', 'ops'], schema_name), table_name"
    ).fetchall():
        rows = con.execute(f"select count(*) from {schema}.{name}").fetchone()[0]
        counts.append((schema, name, rows))
    sections["rows per table"] = (["layer", "table", "rows"], counts)
    return sections


def against_truth(
    con: duckdb.DuckDBPyConnection, truth: dict
) -> tuple[list[str], list[tuple], bool]:
    """mart.daily_kpis next to the generator's truth, one row per day and KPI."""
    cur = con.execute(f"select date, {', '.join(KPIS)} from mart.daily_kpis order by date")
    lake = {str(r[0]): dict(zip(KPIS, r[1:], strict=True)) for r in cur.fetchall()}
    rows, ok = [], True
    for day, expected in sorted(truth["days"].items()):
        got = lake.get(day, {})
        for kpi in KPIS:
            want, have = expected[kpi], got.get(kpi)
            match = have is not None and round(float(have), 2) == round(float(want), 2)
            ok &= match
            rows.append((day, kpi, want, have, "✓" if match else "✗"))
    return ["date", "kpi", "truth", "lake", ""], rows, ok


def demo_extras(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[list[str], list[tuple]]]:
    """The reconciliation and rejected rows the demo shows after its run."""
    queries = {
        "every file reconciles: rows in = loaded + rejected": """
            select stream, count(*) as files, sum(rows_in) as rows_in,
                sum(rows_loaded) as loaded, sum(rows_rejected) as rejected,
                bool_and(rows_in = rows_loaded + rows_rejected) as reconciles
            from ops.load_ledger group by stream order by stream""",
        "rejected rows by reason": """
            select stream, split_part(reason, ':', 1) as reason, count(*) as rows
            from ops.rejected_rows group by all order by stream, rows desc""",
    }
    sections = {}
    for title, sql in queries.items():
        cur = con.execute(sql)
        sections[title] = ([d[0] for d in cur.description], cur.fetchall())
    return sections
