"""Transform: run `sql/stage/*.sql` then `sql/mart/*.sql`, incrementally, in dependency order.

A model is one SQL file; the file name is the table name and the folder its schema. A header
of `-- key: value` comment lines before the first statement configures it:

    -- stage.events: one row per event, deduplicated, the tracker streams joined.
    -- partition: event_date
    -- depends_on: stage.page_rules, stage.products
    -- column event_id: the tracker's event id, unique

`partition` names a DATE column: the model is rebuilt only for the days in `$days` (the runner
binds the affected days of the new load batches, and `$tz`, the reporting time zone), and the
SQL must return exactly the rows of those days. `unique_key` names a key column instead, for a
model whose rows span days (a visitor, a cohort): the SQL returns the complete new rows of the
keys the days touched, and they replace that key's old rows. `materialized: view` makes the
model a view over what it reads (no parameters): nothing is stored or rebuilt, it is always
current. Otherwise the model is rebuilt whole. The pipeline rebuilds stage in one transaction
and the marts in another (`build_together`); a transaction is retried as a whole on conflict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb

from clicklake import sources
from clicklake.config import Settings
from clicklake.lake import SQL_DIR, T, commit_message, retry_transaction, transaction
from clicklake.sqltext import bound, header_lines

log = logging.getLogger(__name__)
LAYERS = ("stage", "mart")
# what the stage transaction builds: the stage models and the source formats' temp tables
STAGE = ("temp", "stage")


@dataclass
class Model:
    """One SQL model file and what its header declares."""

    name: str  # schema.table
    path: Path
    sql: str
    description: str = ""
    partition: str | None = None
    unique_key: str | None = None
    view: bool = False  # `-- materialized: view`
    depends_on: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]


def parse_model(path: Path, only: Collection[str] | None = None) -> Model:
    """Read a model file and its `-- key: value` header. A model whose header has `-- union:`
    is conformed: its SQL is the union of every source format's `stage/<name>.sql` (each unit's
    rows of the header's columns, with `source_format`), and its dependencies theirs; `only`
    limits it to some formats (all when none of them has the file)."""
    sql = path.read_text()
    model = Model(f"{path.parent.name}.{path.stem}", path, sql)
    for line in sql.splitlines():
        if line.startswith(f"-- {model.name}:"):
            model.description = line.split(":", 1)[1].strip()
            break
    union = False
    for key, arg, value in header_lines(sql):
        if key == "partition":
            model.partition = value
        elif key == "unique_key":
            model.unique_key = value
        elif key == "materialized":
            if value != "view":
                raise ValueError(f"{path}: materialized can only be view (a table is the "
                                 f"default), not {value!r}")
            model.view = True
        elif key == "depends_on":
            model.depends_on = [d.strip() for d in value.split(",") if d.strip()]
        elif key == "column" and arg:
            model.columns[arg] = value
        elif key == "union":
            union = True
    if model.view:
        # a view is not rebuilt per run, so it can take none of a run's days or settings
        used = sorted(bound(sql, _params([], Settings())))
        if model.partition or model.unique_key or union or used:
            raise ValueError(f"{path}: a view has no partition, unique_key, union or runner "
                             f"parameter{' ($' + ', $'.join(used) + ')' if used else ''}")
    if union:
        unit_file = f"{model.schema}/{path.name}"
        columns = [c for c in model.columns if c != "source_format"]
        if sources.union_sql(unit_file, columns, only) is None:
            only = None  # a model the chosen formats do not fill: every format's (empty) rows
        model.sql = sources.union_sql(unit_file, columns, only) or ""
        if not model.sql:
            raise ValueError(f"{path}: no source format has {unit_file}")
        model.depends_on += [d for d in sources.depends_on(unit_file, only)
                             if d not in model.depends_on and d != model.name]
    return model


def discover(sql_dir: Path = SQL_DIR, only: Collection[str] | None = None) -> list[Model]:
    """Every stage and mart model, in dependency order (stage before mart, then declared),
    with the source formats' private models among stage's; `only` builds the conformed models
    from those formats (the ones with data) alone."""
    models = {
        m.name: m
        for layer in LAYERS
        for m in (parse_model(p, only) for p in sorted((sql_dir / layer).glob("*.sql")))
    }
    models |= {m.name: m for m in private_models(only)}
    graph: dict[str, set[str]] = {}
    for m in models.values():
        for dep in m.depends_on:
            if dep not in models and not dep.startswith("raw."):
                raise ValueError(f"{m.path}: depends_on names unknown model {dep!r}")
        deps = {d for d in m.depends_on if d in models}
        if m.schema == "mart":
            deps |= {n for n, o in models.items() if o.schema in STAGE}
        graph[m.name] = deps
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ValueError(f"models depend on each other in a cycle: {exc.args[1]}") from exc
    return [models[n] for n in order]


def private_models(only: Collection[str] | None = None) -> list[Model]:
    """The source formats' private models: `sql/sources/<format>/stage/_<name>.sql` is the temp
    table `<format>_<name>` (model `temp.<format>_<name>`), built in the stage transaction for
    the unit's conformed models to share (a nested export parsed once, not once per model) and
    dropped after it. Its SQL sees the same parameters as any model. `only`: of those formats."""
    found = []
    for unit in sources.formats():
        if only is not None and unit.name not in only:
            continue
        for path in sorted((unit.path / "stage").glob("_*.sql")):
            sql = path.read_text()
            model = Model(f"temp.{unit.name}_{path.stem[1:]}", path, sql)
            for key, arg, value in header_lines(sql):
                if key == "depends_on":
                    model.depends_on = [d.strip() for d in value.split(",") if d.strip()]
                elif key == "column" and arg:
                    model.columns[arg] = value
            model.description = f"{unit.name}'s private stage model (a temp table for one build)"
            found.append(model)
    return found


@dataclass
class ModelRun:
    name: str
    rows: int
    seconds: float


def lake_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every `schema.table` of the lake, from DuckLake's own catalog tables (the format's
    `ducklake_schema` and `ducklake_table`, where a live entry has no `end_snapshot`).
    `duckdb_tables()` would give the same in 0.1-0.2 s on a SQLite catalog after each commit:
    it loads every table of every attached database; this reads two small tables."""
    return {
        f"{schema}.{table}"
        for schema, table in con.execute(
            """
            select s.schema_name, t.table_name
            from __ducklake_metadata_lake.ducklake_table as t
            inner join __ducklake_metadata_lake.ducklake_schema as s using (schema_id)
            where t.end_snapshot is null and s.end_snapshot is null
            """
        ).fetchall()
    }


def _rebuild(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    days: list[date],
    settings: Settings,
    tables: set[str],
) -> int:
    """Rebuild one model (its `days` if partitioned, else whole) inside the caller's
    transaction; return the rows it now has for those days (all rows if unpartitioned).
    `tables` are the lake's tables as this transaction sees them; a table the rebuild creates
    is added. An error names the model's file (same exception type, so conflicts are still
    retried)."""
    exists = model.name in tables
    try:
        rows = _rebuild_sql(con, model, days, settings, exists)
    except duckdb.Error as exc:
        where = model.path.relative_to(SQL_DIR.parent) if model.path.is_relative_to(
            SQL_DIR.parent) else model.path
        changed = exists and isinstance(exc, duckdb.BinderException) and _changed_columns(
            con, model, days, settings)
        raise type(exc)(f"{model.name} ({where}): {changed or exc}") from exc
    tables.add(model.name)
    return rows


def _changed_columns(
    con: duckdb.DuckDBPyConnection, model: Model, days: list[date], settings: Settings
) -> str | None:
    """Why an incremental model cannot add its rows to its table: its SQL's columns are not
    the table's (a new version of the model), or None when they are."""
    if model.partition is None and model.unique_key is None:
        return None
    body = model.sql.rstrip().rstrip(";")
    try:
        new = [r[0] for r in con.execute(
            f"describe {body}", bound(model.sql, _params(days, settings))).fetchall()]
        old = [r[0] for r in con.execute(f"describe {model.name}").fetchall()]
    except duckdb.Error:
        return None
    if set(new) == set(old):
        return None
    diff = "; ".join(f"{what}: {', '.join(sorted(cols))}" for what, cols in (
        ("new", set(new) - set(old)), ("gone", set(old) - set(new))) if cols)
    return (f"the model's columns changed since its table was built ({diff}); run "
            "`clicklake rebuild` once to recompute stage and marts from raw")


def _params(days: list[date], settings: Settings) -> dict:
    return {
        "days": days,
        # the days' bounds as constants, so DuckLake can skip files by their min/max stats
        "first_day": min(days) if days else None,
        "last_day": max(days) if days else None,
        "tz": settings.timezone,
        "sql_dir": str(SQL_DIR),
    }


def _rebuild_sql(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    days: list[date],
    settings: Settings,
    exists: bool,
) -> int:
    used = bound(model.sql, _params(days, settings))
    body = model.sql.rstrip().rstrip(";")
    if model.schema == "temp":  # a unit's private table, rebuilt for every stage build
        table = model.name.split(".", 1)[1]
        return con.execute(f"create or replace temp table {table} as {body}", used).fetchone()[0]
    if model.view:
        # a view is always current: nothing to rebuild (a table of its name, from a version
        # before it was a view, goes first)
        if exists:
            con.execute(f"drop table {model.name}")
        con.execute(f"create or replace view {model.name} as {body}")
        return con.execute(f"select count(*) from {model.name}").fetchone()[0]
    if model.partition is None and model.unique_key is None:
        return con.execute(f"create or replace table {model.name} as {body}", used).fetchone()[0]
    if model.partition is not None and len(days) > 2:
        # more than two days (a rebuild, a backfill) are written in day order: each Parquet row
        # group then holds few days, and a later run that reads one day skips the others by
        # their statistics (unsorted, every row group of a month's file spans the whole month;
        # an hour across midnight, two days, is not worth a sort)
        body = f"select * from ({body}\n) order by {model.partition}"
    if not exists:  # nothing to replace yet: the new rows are the table
        return con.execute(f"create table {model.name} as {body}", used).fetchone()[0]
    if model.unique_key is not None:
        # the SQL returns the new rows of the keys the days touched; they replace the old ones
        # (computed once: the keys to delete are the keys of the rows to insert)
        key = model.unique_key
        con.execute(f"create or replace temp table _new_rows as {body}", used)
        con.execute(f"delete from {model.name} where {key} in (select {key} from _new_rows)")
        rows = con.execute(f"insert into {model.name} by name from _new_rows").fetchone()[0]
        con.execute("drop table _new_rows")
        return rows
    # the SQL returns the rows of the days (and only those): they replace the days' old rows
    con.execute(
        f"delete from {model.name} where {model.partition} in (select unnest($days::date[]))",
        {"days": days},
    )
    return con.execute(f"insert into {model.name} by name {body}", used).fetchone()[0]


def build_together(
    con: duckdb.DuckDBPyConnection,
    models: list[Model],
    days: list[date],
    settings: Settings,
    gate: Callable[[], T],
    on_built: Callable[[ModelRun], None] | None = None,
    fresh: bool = False,
) -> tuple[list[ModelRun], T]:
    """Rebuild `models` in ONE transaction and call `gate()` before committing it.

    `gate` sees the new tables (it runs inside the transaction); if it raises, nothing of the
    rebuild is published and readers keep the previous tables. The whole transaction is
    retried on a write conflict. `on_built` hears of each model as it is built (to show
    progress; a retried transaction builds them again). `fresh` drops each model's table
    first, in the same transaction (a rebuild from raw: a failed one leaves the old tables).
    """

    def attempt() -> tuple[list[ModelRun], T]:
        runs = []
        with transaction(con):
            tables = lake_tables(con)
            if fresh:
                for model in models:
                    if model.name in tables and model.schema != "temp":
                        con.execute(f"drop table {model.name}")
                        tables.discard(model.name)
            for model in models:
                t0 = time.perf_counter()
                rows = _rebuild(con, model, days, settings, tables)
                runs.append(ModelRun(model.name, rows, time.perf_counter() - t0))
                log.info("built %s: %d rows in %.2fs", model.name, rows, runs[-1].seconds)
                if on_built:
                    on_built(runs[-1])
            judged = gate()
            layers = sorted({m.schema for m in models if m.schema != "temp"}) or ["models"]
            commit_message(
                con,
                f"{' and '.join(layers)} for {days_text(days)}: {len(runs)} models, "
                f"{sum(r.rows for r in runs):,} rows",
                days=[str(d) for d in days], models={r.name: r.rows for r in runs},
            )
            return runs, judged

    return retry_transaction(attempt)


def days_text(days: list[date]) -> str:
    """Days in a few words: `2024-03-01`, `2024-03-01..2024-03-04 (4 days)`, `no days`."""
    if not days:
        return "no days"
    first, last = str(min(days)), str(max(days))  # dates, or ISO strings: the same order
    if first == last:
        return first
    return f"{first}..{last} ({len(set(days))} days)"


def pending_batches(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Load batches not yet absorbed by stage and mart."""
    return [
        r[0]
        for r in con.execute(
            """
            select distinct batch_id from ops.load_ledger
            where batch_id not in (select batch_id from ops.transform_log)
            order by 1
            """
        ).fetchall()
    ]


def affected_days(
    con: duckdb.DuckDBPyConnection, batches: list[str], settings: Settings
) -> list[date]:
    """The reporting days whose stage and mart rows the given load batches can change: the
    union of the `affected_days.sql` of every source format with rows in them (a format's
    file finds no day in batches of other formats, and reading its empty tables costs)."""
    if not batches:
        return []
    found = con.execute(
        "select list(distinct stream), count(distinct batch_id) from ops.load_ledger "
        "where batch_id in (select unnest($b))", {"b": batches}).fetchone()
    streams = set(found[0] or [])
    only = None if found[1] < len(set(batches)) else [
        u.name for u in sources.formats() if streams & set(u.streams)]
    sql = sources.union_sql("affected_days.sql", ["day"], only=only)
    if sql is None:
        return []
    params = {"batches": batches, "tz": settings.timezone}
    return plausible_days([r[0] for r in con.execute(
        f"select distinct day from ({sql}) where day is not null order by day", params
    ).fetchall()], settings)


def plausible_days(days: list, settings: Settings) -> list[date]:
    """The days that can hold events: from CLICKLAKE_EARLIEST_EVENT_DATE to tomorrow plus
    CLICKLAKE_FUTURE_EVENT_HOURS. Load rejects events outside them; one that reached raw
    before it did (a year 10000 DuckDB gives as text) is logged and left out, never built into
    a day of the marts nor able to fail every later run."""
    try:
        low = date.fromisoformat(settings.earliest_event_date)
    except ValueError:
        low = date(2000, 1, 1)
    high = date.today() + timedelta(days=1 + settings.future_event_hours // 24 + 1)
    kept = [d for d in days if isinstance(d, date) and low <= d <= high]
    if len(kept) != len(days):
        log.warning("raw holds events on implausible days, not built: %s",
                    ", ".join(str(d) for d in days if d not in kept))
    return kept


def all_days(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[date]:
    """Every reporting day that has an event in raw (what a full rebuild covers): the days of
    every load batch."""
    batches = [r[0] for r in con.execute(
        "select distinct batch_id from ops.load_ledger order by 1").fetchall()]
    return affected_days(con, batches, settings)


def mark_transformed(con: duckdb.DuckDBPyConnection, batches: list[str], run_id: str) -> None:
    """Record that stage and mart now include these batches."""
    if batches:
        retry_transaction(lambda: _insert_log(con, batches, run_id))


def _insert_log(con: duckdb.DuckDBPyConnection, batches: list[str], run_id: str) -> None:
    with transaction(con):
        commit_message(con, f"transform log {run_id}: {len(batches)} load batches now in stage "
                       "and marts", run_id=run_id, batches=batches)
        con.execute(
            "insert into ops.transform_log select unnest($b), $r, now()",
            {"b": batches, "r": run_id},
        )


def drop_private(con: duckdb.DuckDBPyConnection, models: list[Model]) -> None:
    """Drop the temp tables of the source formats' private models (they live for one build)."""
    for m in models:
        if m.schema == "temp":
            con.execute(f"drop table if exists {m.name}")


def docs(models: list[Model] | None = None) -> str:
    """Every model's grain and columns as Markdown, in build order (`clicklake docs`)."""
    out = []
    for m in models or discover():
        if m.schema == "temp":  # a source format's own step: `clicklake docs` shows the units
            continue
        out.append(f"## {m.name}\n\n{m.description}\n")
        if m.view:
            out.append("A view: always current, nothing stored.\n")
        elif m.partition:
            out.append(f"Rebuilt per `{m.partition}` partition; depends on "
                       f"{', '.join(m.depends_on) or 'raw only'}.\n")
        else:
            out.append(f"Rebuilt whole; depends on {', '.join(m.depends_on) or 'raw only'}.\n")
        out.append("| column | meaning |\n| --- | --- |")
        out += [f"| `{c}` | {text} |" for c, text in m.columns.items()]
        out.append("")
    return "\n".join(out)
