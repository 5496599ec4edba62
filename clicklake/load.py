"""Load raw: landed JSONL and Parquet → `raw.<stream>`, each landed file exactly once.

The raw table's DDL is the contract: its columns say which fields are read and their types,
NOT NULL marks the required ones. A line whose required field is missing or does not cast is
rejected into `ops.rejected_rows` with the reason; an optional value that does not cast, or a
field the contract does not know, keeps the whole line in `_unmapped` so nothing is dropped.
A Parquet file's rows follow the same rules, column by column (a nested value in a JSON column
becomes its JSON text; the row, as JSON, stands for the line). The file's rows, its rejected
rows and its `ops.load_ledger` row commit in one DuckLake transaction, so a crash leaves either
all of them or none.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import duckdb

from clicklake import sources
from clicklake.config import ConfigError, Settings
from clicklake.extract import (
    LINES,
    MAX_LINE_BYTES,
    PARQUET_SUFFIX,
    folders_of,
    is_bad_file,
    partition_of,
)
from clicklake.lake import (
    catalog_read,
    commit_message,
    connect,
    first_line,
    off_catalog,
    retry_transaction,
    transaction,
)
from clicklake.sqltext import header_lines, ident, literal
from clicklake.storage import ensure_folder, join, remove

log = logging.getLogger(__name__)
# raw data files: zstd at level 1 compresses nearly as well as the default level 3 for about
# 30% less time, and raw is written once per file (the daily compaction rewrites it anyway)
PARQUET = "compression zstd, compression_level 1"

LINEAGE = ("_unmapped", "_source_file", "_line_no", "_batch_id", "_loaded_at", "_source_date")


class ReconciliationError(RuntimeError):
    """Rows in != rows loaded + rows rejected: a bug, never published."""


@dataclass
class LoadResult:
    stream: str
    batch_id: str = ""
    files: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool


def contract(con: duckdb.DuckDBPyConnection, stream: str) -> list[Column]:
    """The contract columns of `raw.<stream>` (lineage columns excluded), in table order.

    DESCRIBE binds the one table: `duckdb_columns()` loads every table of every attached
    database, 0.03-0.26 s on a SQLite catalog, once per stream and load."""
    try:
        rows = con.execute(f"describe lake.raw.{ident(stream)}").fetchall()
    except duckdb.CatalogException:
        raise ValueError(f"no raw table for stream {stream!r} "
                         f"(add sql/sources/<format>/raw/{stream}.sql)") from None
    return [Column(n, t, null == "NO") for n, t, null, *_ in rows if n not in LINEAGE]


@dataclass(frozen=True)
class EventTime:
    """A stream's plausible event times: its raw DDL's `-- event_time <column>: <expr>` (the
    column's timestamptz, `{}` standing for its typed value) and the settings' bounds."""

    column: str
    expr: str
    earliest: datetime
    earliest_text: str
    future_hours: int

    def reason(self, value: str, latest: str) -> str:
        """SQL: why the typed value `value` of the column is implausible (null: it is not, or
        it is missing, which another reason says); `latest` is SQL for the file's arrival plus
        the margin."""
        t = f"({self.expr.format(value)})"
        name = literal(f"implausible {self.column}: ")
        shown = f"coalesce(try(({t} at time zone 'UTC')::varchar) || ' UTC', {value}::varchar)"
        before = literal(f" is before CLICKLAKE_EARLIEST_EVENT_DATE {self.earliest_text}")
        after = literal(f" is more than {self.future_hours} hours after the file arrived "
                        "(CLICKLAKE_FUTURE_EVENT_HOURS)")
        return (f"case when {value} is null then null "
                f"when {t} is null then {name} || {value}::varchar || ' is no time' "
                f"when {t} < $earliest then {name} || {shown} || {before} "
                f"when {t} > {latest} then {name} || {shown} || {after} end")

    def within(self, value: str, latest: str) -> str:
        """SQL: whether the typed value `value` is a plausible event time (false when null)."""
        return f"coalesce(({self.expr.format(value)}) between $earliest and {latest}, false)"

    def latest(self, landed_at: datetime | None) -> datetime:
        return (landed_at or datetime.now(UTC)) + timedelta(hours=self.future_hours)


def event_time(stream: str, settings: Settings | None = None) -> EventTime | None:
    """The stream's event time rule (None: its rows have no event time, as a catalog's)."""
    try:
        path = sources.format_of(stream).path / "raw" / f"{stream}.sql"
    except KeyError:
        return None
    found = [(arg, value) for key, arg, value in header_lines(path.read_text())
             if key == "event_time" and arg]
    if not found:
        return None
    settings = settings or Settings()
    try:
        earliest = date.fromisoformat(settings.earliest_event_date)
    except ValueError as exc:
        raise ConfigError(f"CLICKLAKE_EARLIEST_EVENT_DATE={settings.earliest_event_date!r} is "
                          "not a date (YYYY-MM-DD)") from exc
    column, expr = found[0]
    return EventTime(column, expr, datetime(earliest.year, earliest.month, earliest.day,
                                            tzinfo=UTC),
                     earliest.isoformat(), settings.future_event_hours)


@dataclass(frozen=True)
class PendingFile:
    """A landed file that has no ledger row yet (a row of `ops.landed_files`)."""

    landing_uri: str
    source_uri: str
    rejected_uri: str | None
    lines_in: int
    lines_invalid: int
    lines_blank: int | None  # None: landed before empty lines were counted
    landed_at: datetime | None = None  # when extract landed it: its arrival

    @property
    def is_parquet(self) -> bool:
        return self.landing_uri.endswith(PARQUET_SUFFIX)

    @property
    def is_dense(self) -> bool:
        """A JSONL file without empty lines: its lines can be numbered as they are read."""
        return self.lines_blank == 0 and not self.is_parquet


def _value(c: Column, field: str) -> tuple[str, str]:
    """(the value as stored, the value typed) of one field given as text: a required field's
    blank value counts as missing, and its surrounding white space goes (trim copies the
    text, so only values that need it are trimmed)."""
    value = field
    if c.required:
        value = (f"case when ascii({field}) > 32 and ascii(right({field}, 1)) > 32 "
                 f"then {field} else nullif(trim({field}), '') end")
    return value, value if c.type == "VARCHAR" else f"try_cast({value} as {c.type})"


def _dense(columns: list[Column], rule: EventTime | None = None) -> str:
    """SQL over dense landing files (the list `$paths`, no empty line in any): every line's
    fields typed, `_fits`, whether the line fits the contract whole, and `file_index`, which
    of the files it is from.

    One JSON parse per line, into a map of every key to its value as text, so that the same
    parse gives the values and tells a line with a field the contract does not know (its map
    has more keys than known ones). Read in parallel, in file order and line order: created as
    a table, the lines of each file are consecutive rows, so a row's rowid gives its line
    number without a row_number() window, which would run on one thread. A line whose event
    time is implausible (`rule`, the file's arrival from the list `$latest`) does not fit.
    """
    typed, fits = [], []
    for c in columns:
        value, cast = _value(c, f"m[{literal(c.name)}]")
        typed.append(f"{cast} as {ident(c.name)}")
        if c.required:
            fits.append(f"{cast} is not null")
        elif c.type != "VARCHAR":
            fits.append(f"({value} is null or {cast} is not null)")
    known = " + ".join(f"map_contains(m, {literal(c.name)})::int" for c in columns)
    fits.append(f"cardinality(m) = {known}")
    sql = f"""
        select {", ".join(typed)}, {" and ".join(fits)} as _fits, file_index
        from read_json(
            $paths, format = 'newline_delimited', records = false,
            columns = {{'m': 'MAP(VARCHAR, VARCHAR)'}}, maximum_object_size = {MAX_LINE_BYTES}
        )
    """
    if rule is None:
        return sql
    # over the typed column (cast once): a line outside the window does not fit
    within = rule.within(ident(rule.column), "$latest[file_index::bigint + 1]")
    return f"select * replace (_fits and {within} as _fits) from ({sql})"


def _parsed(columns: list[Column], rule: EventTime | None = None) -> str:
    """SQL over any landing file (`$path`): line_no, line, each field typed, and why not.

    One JSON parse per line extracts every field (as text, then cast: the text is what a
    rejection reason quotes) and one more lists its keys to spot fields the contract does not
    know. Empty lines (where extract dropped an invalid line) are not rows but keep numbering.
    An implausible event time (`rule`, the file's arrival `$latest`) is a reason too.
    """
    known = ", ".join(literal(c.name) for c in columns)
    paths = ", ".join(literal("$." + json.dumps(c.name)) for c in columns)
    typed, reasons, unfit = [], [], []
    for i, c in enumerate(columns, start=1):
        raw = f"v[{i}]"
        value, cast = _value(c, raw)
        typed.append(f"{cast} as {ident(c.name)}")
        bad = "false" if c.type == "VARCHAR" else f"{value} is not null and {cast} is null"
        if c.required:
            reasons.append(
                f"case when {value} is null then {literal('missing ' + c.name)} "
                f"when {bad} then {literal('invalid ' + c.name + ': ')} || left({raw}, 60) end"
            )
        elif c.type != "VARCHAR":
            unfit.append(f"({bad})")
        if rule and c.name == rule.column:
            reasons.append(rule.reason(cast, "$latest"))
    # a field the contract does not know, or a key given twice (the typed column holds its
    # first value: the line keeps both), or a value that does not cast: the line is kept whole
    has_unmapped = " or ".join([
        f"not list_has_all([{known}], json_keys(line))",
        "len(json_keys(line)) > len(list_distinct(json_keys(line)))", *unfit,
    ])
    return f"""
        select
            line_no,
            line,
            {", ".join(typed)},
            nullif(concat_ws('; ', {", ".join(reasons) or "null"}), '') as _reason,
            ({has_unmapped}) as _has_unmapped
        from (
            select line_no, line, json_extract_string(line, [{paths}]) as v
            from (
                select row_number() over () as line_no, line
                from read_csv(
                    $path, columns = {{'line': 'VARCHAR'}}, {LINES}
                )
            )
            where line <> ''
        )
    """


@dataclass
class Prepared:
    """One landed file parsed and typed, ready to commit: how many of its rows the batch's
    data files hold and the temp table of its rejected lines (if any)."""

    landed: PendingFile
    rows_loaded: int = 0
    rejects: str | None = None


@dataclass
class DataFile:
    """A Parquet data file written for a batch and the landed files whose rows it holds."""

    path: str
    members: frozenset[str]


# Dense files are read together and written as one data file, up to about this many lines: a
# backlog of small files then costs one read and one data file per million lines, not per file.
DENSE_LINES = 1_000_000


def _data_file(data_dir: str) -> str:
    return join(data_dir, f"ducklake-{uuid4()}.parquet")


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: str, params: dict) -> int:
    """Write a query's rows to a Parquet data file as DuckLake writes them; return the rows."""
    return con.execute(
        f"copy ({sql}) to {literal(target)} (format parquet, {PARQUET})", params
    ).fetchone()[0]


def prepare_batch(
    con: duckdb.DuckDBPyConnection,
    columns: list[Column],
    files: list[PendingFile],
    batch_id: str,
    loaded_at: datetime,
    data_dir: str,
    rule: EventTime | None = None,
) -> tuple[list[Prepared], list[DataFile]]:
    """Parse, type and write a batch of landed files as raw data files, outside any lake
    transaction.

    Dense files (no empty line: `lines_blank` is 0) are read together by `_dense` (one parse
    per line, in parallel), in consecutive groups of about `DENSE_LINES` lines, and the lines
    that fit whole are written straight to one data file per group. The lines that do not (a
    line that repeats a key among them: its map has more entries than known keys), and every
    line of a file with empty lines or of one `_dense` cannot read, go through `_parsed`: its
    accepted rows (with `_unmapped`) become a data file of that file, its rejected rows the
    temp table `_rejects_<n>`. A Parquet file is read by `_prepare_parquet`, into a data file
    of its own and the same temp table. Every line ends up in exactly one of them. `rule`
    rejects lines whose event time is implausible.
    """
    prepared = {f.landing_uri: Prepared(f) for f in files}
    written: list[DataFile] = []
    tags = {f.landing_uri: str(i) for i, f in enumerate(files)}
    lineage = {"batch": batch_id, "loaded_at": loaded_at}

    def by_line(landed: PendingFile, restrict: str = "") -> None:
        _prepare_lines(con, columns, landed, restrict, lineage, data_dir,
                       prepared[landed.landing_uri], written, tags[landed.landing_uri], rule)

    def dense(group: list[PendingFile]) -> None:
        if _prepare_dense(con, columns, group, lineage, data_dir, prepared, written, by_line,
                          rule):
            return
        if len(group) == 1:  # this file cannot be read densely: line by line
            by_line(group[0])
            return
        for landed in group:  # one of the files breaks the joint read: one by one
            dense([landed])

    try:
        for group in batches([f for f in files if f.is_dense], DENSE_LINES):
            dense(group)
        for landed in files:
            if landed.is_parquet:
                _prepare_parquet(con, columns, landed, lineage, data_dir,
                                 prepared[landed.landing_uri], written, tags[landed.landing_uri],
                                 rule)
            elif not landed.is_dense:
                by_line(landed)
    except BaseException:
        for data in written:
            remove(data.path)
        raise
    return list(prepared.values()), written


def _prepare_dense(con, columns, group, lineage, data_dir, prepared, written, by_line,
                   rule: EventTime | None = None) -> bool:
    """The `_dense` part of `prepare_batch` for one group of dense files: False when the group
    cannot be read together (a file `_dense` cannot read, or whose line count is off)."""
    paths = [f.landing_uri for f in group]
    try:
        params: dict = {"paths": paths}
        if rule:
            params |= {"earliest": rule.earliest,
                       "latest": [rule.latest(f.landed_at) for f in group]}
        sql = _dense(columns, rule) if rule else _dense(columns)
        con.execute(f"create or replace temp table _typed as {sql}", params)
    except duckdb.Error as exc:
        log.info("%s: %s; reading file by file", paths[0] if len(paths) == 1 else
                 f"{len(paths)} files", first_line(exc))
        return False
    try:
        found = {
            i: (n, lo, unfit)
            for i, n, lo, unfit in con.execute(
                "select file_index, count(*), min(rowid), count(*) filter (where not _fits) "
                "from _typed group by file_index"
            ).fetchall()
        }
        bases, base = [], 0
        for i, landed in enumerate(group):
            n, lo, _ = found.get(i, (0, base, 0))
            if n != landed.lines_in or lo != base:  # the numbering would be off
                return False
            bases.append(base)
            base += n
        fits = base - sum(unfit for _, _, unfit in found.values())
        if fits:
            target = _data_file(data_dir)
            names = ", ".join(f"t.{ident(c.name)}" for c in columns)
            copied = _copy(con, f"""
                select {names}, null::json as _unmapped, f.source as _source_file,
                       t.rowid - f.base + 1 as _line_no, $batch as _batch_id,
                       $loaded_at::timestamptz as _loaded_at, f.source_date as _source_date
                from _typed as t
                inner join (
                    select unnest($indexes) as file_index, unnest($sources) as source,
                           unnest($dates) as source_date, unnest($bases) as base
                ) as f using (file_index)
                where t._fits""", target, {
                **lineage,
                "indexes": list(range(len(group))),
                "sources": [f.source_uri for f in group],
                "dates": [_source_date(f.source_uri) for f in group],
                "bases": bases,
            })
            written.append(DataFile(target, frozenset(paths)))
            if copied != fits:
                raise ReconciliationError(f"{target}: {copied} rows written, {fits} expected")
        for i, landed in enumerate(group):
            n, _, unfit = found.get(i, (0, 0, 0))
            prepared[landed.landing_uri].rows_loaded += n - unfit
            if unfit:
                by_line(landed, f"semi join (select rowid - {bases[i]} + 1 as n from _typed "
                                f"where file_index = {i} and not _fits) u on u.n = p.line_no")
        return True
    finally:
        con.execute("drop table if exists _typed")


def _prepare_lines(con, columns, landed, restrict, lineage, data_dir, out: Prepared, written,
                   tag: str, rule: EventTime | None = None) -> None:
    """The `_parsed` part of `prepare_batch` for one file: its lines (those `restrict` keeps,
    or all) typed, the accepted ones written to a data file, the rejected ones kept in
    `_rejects_<tag>`."""
    landing_uri, source_uri = landed.landing_uri, landed.source_uri
    params = {**lineage, "source": source_uri, "source_date": _source_date(source_uri)}
    out.rejects = f"_rejects_{tag}"
    con.execute(
        f"create or replace temp table {out.rejects} as "
        f"select p.* from ({_parsed(columns, rule)}) p {restrict}",
        {"path": landing_uri, **_time_params(rule, landed)},
    )
    accepted = con.execute(f"select count(*) from {out.rejects} where _reason is null")
    if accepted.fetchone()[0]:
        target = _data_file(data_dir)
        names = ", ".join(ident(c.name) for c in columns)
        out.rows_loaded += _copy(con, f"""
            select {names}, case when _has_unmapped then line::json end as _unmapped,
                   {_LINEAGE_SQL.format("line_no")}
            from {out.rejects} where _reason is null""", target, params)
        written.append(DataFile(target, frozenset([landing_uri])))


def _prepare_parquet(con, columns, landed: PendingFile, lineage, data_dir, out: Prepared,
                     written, tag: str, rule: EventTime | None = None) -> None:
    """The part of `prepare_batch` for one Parquet file: its rows that fit the contract
    written straight to a data file (typed in one parallel read, `_parquet_sql`), the rejected
    ones kept in `_rejects_<tag>` with the row as JSON. Line N is the file's N-th row.

    Extract read the file's footer; a file whose data then cannot be read (a corrupt page) has
    every row rejected with DuckDB's reason, so the stream's later files still load. An I/O
    error (a network failure, a missing file) is not the file's fault: it fails the load,
    which the next run retries."""
    path = landed.landing_uri
    target = _data_file(data_dir)
    try:
        copied = _read_parquet(con, columns, landed, lineage, target, out, tag, rule)
    except duckdb.Error as exc:
        remove(target)
        if not is_bad_file(exc):
            raise
        log.warning("%s: %s; every row rejected", path, first_line(exc))
        out.rejects = f"_rejects_{tag}"
        con.execute(
            f"create or replace temp table {out.rejects} as "
            "select range + 1 as line_no, $reason as _reason, null::varchar as line "
            "from range($rows)",
            {"reason": f"unreadable Parquet file: {first_line(exc)}", "rows": landed.lines_in},
        )
        return
    except BaseException:
        remove(target)
        raise
    if copied:
        out.rows_loaded += copied
        written.append(DataFile(target, frozenset([path])))
    else:
        remove(target)


def _time_params(rule: EventTime | None, landed: PendingFile) -> dict:
    """The parameters of one file's event time rule (none without a rule)."""
    if rule is None:
        return {}
    return {"earliest": rule.earliest, "latest": rule.latest(landed.landed_at)}


def _read_parquet(con, columns, landed: PendingFile, lineage, target: str, out: Prepared,
                  tag: str, rule: EventTime | None = None) -> int:
    """Write the file's fitting rows to `target` and keep its rejected ones in
    `_rejects_<tag>` (`out.rejects`); return the rows written."""
    path = landed.landing_uri
    # the file's own columns only: no `date`/`hour` column made up from the landing folders
    # (GA360 has a `date` column of its own)
    schema = dict(con.execute(
        "select column_name, column_type "
        f"from (describe select * from read_parquet({literal(path)}, hive_partitioning = false))"
    ).fetchall())
    typed, reason, unmapped, row = _parquet_sql(columns, schema, rule)
    times = _time_params(rule, landed)
    scan = "read_parquet($path, file_row_number = true, hive_partitioning = false) as t"
    if reason != "null":
        # which rows break the contract: a read of the required columns only, usually none
        why = f"_why_{tag}"
        con.execute(
            f"create or replace temp table {why} as "
            f"select * from (select t.file_row_number, {reason} as _reason from {scan}) "
            "where _reason is not null",
            {"path": path, **times},
        )
        try:
            if con.execute(f"select count(*) from {why}").fetchone()[0]:
                out.rejects = f"_rejects_{tag}"
                con.execute(
                    f"create or replace temp table {out.rejects} as "
                    f"select t.file_row_number + 1 as line_no, w._reason, to_json({row}) as line "
                    f"from {scan} inner join {why} as w using (file_row_number)",
                    {"path": path},
                )
        finally:
            con.execute(f"drop table if exists {why}")
    return _copy(con, f"""
        select {typed}, case when {unmapped} then to_json({row}) end as _unmapped,
               {_LINEAGE_SQL.format("t.file_row_number + 1")}
        from {scan}
        where {reason} is null""", target, {
        **lineage, "path": path, "source": landed.source_uri,
        "source_date": _source_date(landed.source_uri), **times,
    })


def _is_nested(type_: str) -> bool:
    return type_.startswith(("STRUCT", "MAP", "UNION")) or type_.endswith("]")


def _parquet_sql(columns: list[Column], schema: dict[str, str],
                 rule: EventTime | None = None) -> tuple[str, str, str, str]:
    """SQL over a Parquet file read as `t` whose columns and types are `schema`: (the contract
    columns typed, why a row is rejected (null: it fits), whether it keeps `_unmapped`, the
    whole row as a struct).

    A contract column the file has: a JSON column takes `to_json` of the value (a struct or
    list becomes its JSON text), a VARCHAR column the value as text (JSON text for a nested
    one, as the JSON path gives), other types a try_cast; one it lacks is null. Required
    columns missing, blank or not casting reject the row as a JSON line's would; optional ones
    not casting, or a non-null column the contract does not know, keep the row in `_unmapped`.
    An implausible event time (`rule`, the file's arrival `$latest`) rejects the row.
    """
    typed, reasons, unfit = [], [], []
    for c in columns:
        src = schema.get(c.name)
        if src is None:
            typed.append(f"null::{c.type} as {ident(c.name)}")
            if c.required:
                reasons.append(literal("missing " + c.name))
            continue
        col = f"t.{ident(c.name)}"
        text = (f"to_json({col})::varchar" if _is_nested(src) or src == "JSON"
                else col if src == "VARCHAR" else f"{col}::varchar")
        if c.type == "VARCHAR":
            value, cast = _value(c, text)
        elif c.type == src:
            value, cast = col, col
        elif c.type == "JSON":
            value, cast = col, f"to_json({col})"
        else:
            value, cast = col, f"try_cast({text if _is_nested(src) else col} as {c.type})"
        typed.append(f"{cast} as {ident(c.name)}")
        bad = f"{value} is not null and {cast} is null"
        if c.required:
            reasons.append(
                f"case when {value} is null then {literal('missing ' + c.name)} "
                f"when {bad} then {literal('invalid ' + c.name + ': ')} || left({text}, 60) end"
            )
        elif cast != value and c.type != "JSON":  # to_json of a value is never null
            unfit.append(f"({bad})")
        if rule and c.name == rule.column:
            reasons.append(rule.reason(cast, "$latest"))
    known = {c.name for c in columns}
    unfit += [f"t.{ident(name)} is not null" for name in schema if name not in known]
    reason = f"nullif(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "null"
    row = "{" + ", ".join(f"{literal(name)}: t.{ident(name)}" for name in schema) + "}"
    return ", ".join(typed), reason, " or ".join(unfit) or "false", row


# the lineage columns of a raw row, bound per file; {} is the line number
_LINEAGE_SQL = ("$source as _source_file, {} as _line_no, $batch as _batch_id, "
                "$loaded_at::timestamptz as _loaded_at, $source_date::date as _source_date")


def _source_date(source_uri: str) -> date:
    """The `date=` folder of a source object (extract only lands objects that have one)."""
    part = partition_of(source_uri)
    if part is None:
        raise ValueError(f"{source_uri}: no date=YYYY-MM-DD folder in its path")
    return part[0]


def load_file(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    prepared: Prepared,
    batch_id: str,
    run_id: str,
) -> tuple[int, int, int, dict[str, int]]:
    """Commit one prepared file inside the caller's transaction (its rows are in data files
    the caller adds): its rejected lines go to `ops.rejected_rows` and its ledger row is
    written. Returns (rows_in, rows_loaded, rows_rejected, reasons)."""
    landed = prepared.landed
    landing_uri, source_uri, lines_in = landed.landing_uri, landed.source_uri, landed.lines_in
    loaded = prepared.rows_loaded
    reasons: dict[str, int] = {}
    if prepared.rejects or landed.rejected_uri:
        reasons = _reject(con, stream, prepared, batch_id)
    rejected = sum(reasons.values())
    if lines_in != loaded + rejected:
        raise ReconciliationError(
            f"{landing_uri}: {lines_in} lines in, {loaded} loaded + {rejected} rejected"
        )
    con.execute(
        "insert into ops.load_ledger values (?, ?, ?, ?, ?, ?, ?, ?, now())",
        [landing_uri, stream, source_uri, lines_in, loaded, rejected, batch_id, run_id],
    )
    return lines_in, loaded, rejected, reasons


def _reject(
    con: duckdb.DuckDBPyConnection, stream: str, prepared: Prepared, batch_id: str
) -> dict[str, int]:
    """Write the file's rejected lines (contract breaks and extract's invalid lines) to
    `ops.rejected_rows`; return their count by reason."""
    source_uri, rejected_uri = prepared.landed.source_uri, prepared.landed.rejected_uri
    parts = []
    if prepared.rejects:
        parts.append(
            f"select line_no, _reason as reason, line from {prepared.rejects} "
            "where _reason is not null"
        )
    if rejected_uri:
        parts.append(
            """
            select line_no, reason, line
            from read_json($rejected, columns = {'line_no': 'BIGINT', 'reason': 'VARCHAR',
                                                 'line': 'VARCHAR'})
            """
        )
    con.execute(
        f"create or replace temp table _rejects as {' union all '.join(parts)}",
        {"rejected": rejected_uri} if rejected_uri else {},
    )
    con.execute(
        """
        insert into ops.rejected_rows
        select $stream, $source, line_no, reason, line, $batch, now() from _rejects
        """,
        {"stream": stream, "source": source_uri, "batch": batch_id},
    )
    reasons = dict(
        con.execute("select split_part(reason, ':', 1), count(*) from _rejects group by all")
        .fetchall()
    )
    con.execute("drop table _rejects")
    return reasons


def _copy_rejects(con: duckdb.DuckDBPyConnection, to: duckdb.DuckDBPyConnection,
                  prepared: list[Prepared]) -> None:
    """Copy the batch's rejected-lines temp tables from `con` to the connection `to`."""
    for p in prepared:
        if p.rejects:
            rows = con.execute(f"from {p.rejects}").fetch_arrow_table()
            to.register("_rejects_copy", rows)
            to.execute(f"create or replace temp table {p.rejects} as from _rejects_copy")
            to.unregister("_rejects_copy")


def pending_files(con: duckdb.DuckDBPyConnection, stream: str) -> list[PendingFile]:
    """Landed files of the stream that have no ledger row yet, in the order they arrived."""
    return [PendingFile(*row) for row in con.execute(
        """
        select f.landing_uri, f.source_uri, f.rejected_uri, f.lines_in, f.lines_invalid,
               f.lines_blank, f.landed_at
        from ops.landed_files f
        anti join ops.load_ledger l on l.landing_uri = f.landing_uri
        where f.stream = ?
        order by f.landed_at, f.landing_uri
        """,
        [stream],
    ).fetchall()]


# Lines per transaction: a backlog (a backfill, a day of late files) commits in several
# batches of about this size, so a failure late in a long load does not redo all of it.
BATCH_LINES = 2_000_000


def batches(files: list[PendingFile], max_lines: int = BATCH_LINES) -> list[list[PendingFile]]:
    """Split pending files (oldest first) into consecutive batches of at most `max_lines`
    lines; a file larger than that is a batch of its own."""
    out: list[list[PendingFile]] = []
    lines = 0
    for f in files:
        if not out or (lines + f.lines_in > max_lines and out[-1]):
            out.append([])
            lines = 0
        out[-1].append(f)
        lines += f.lines_in
    return out


def load_stream(con: duckdb.DuckDBPyConnection, stream: str, run_id: str,
                settings: Settings | None = None) -> LoadResult:
    """Load every pending landed file of the stream into raw: one transaction (one batch) for
    the usual hour, consecutive batches of about `BATCH_LINES` lines for a backlog.

    Each batch's files are parsed and written as Parquet data files first, outside the
    transaction (`prepare_batch`); the transaction only adds those files to the table, writes
    the rejected rows and the ledger, and commits. The pending list is read again inside it,
    so a retry after a conflict or a crash never loads a file twice (a file another load
    committed meanwhile is skipped and its data files deleted, and the files that shared a
    data file with it wait for the next load, as does one that landed meanwhile; two loads of
    one stream at the same time are kept apart by the pipeline's stream lock, since DuckLake
    does not conflict appends). A crash before the
    commit leaves data files no snapshot knows: `clicklake maintain` deletes such orphans.
    The snapshot's commit message carries the batch id; `batch_id` is the last one.

    `settings` give the plausible event times (the defaults without them) and let a commit
    that failed be retried on a connection of its own (without them, on `con`).
    """
    with catalog_read():
        columns = contract(con, stream)
        data_dir = join(_data_path(con), "raw", stream)
        pending = pending_files(con, stream)
    rule = event_time(stream, settings)
    ensure_folder(data_dir)
    total = LoadResult(stream, batch_id=f"{run_id}-{stream}-{uuid4().hex[:8]}")
    for files in batches(pending):
        done = _load_batch(con, stream, columns, files, run_id, data_dir, rule, settings)
        total.batch_id = done.batch_id
        total.files += done.files
        total.rows_in += done.rows_in
        total.rows_loaded += done.rows_loaded
        total.rows_rejected += done.rows_rejected
        for reason, n in done.reasons.items():
            total.reasons[reason] = total.reasons.get(reason, 0) + n
    return total


def _data_path(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(
        "select value from ducklake_options('lake') where option_name = 'data_path'"
    ).fetchone()[0]


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    columns: list[Column],
    files: list[PendingFile],
    run_id: str,
    data_dir: str,
    rule: EventTime | None = None,
    settings: Settings | None = None,
) -> LoadResult:
    batch_id = f"{run_id}-{stream}-{uuid4().hex[:8]}"
    with off_catalog(con):
        prepared, written = prepare_batch(con, columns, files, batch_id, datetime.now(UTC),
                                          data_dir, rule)
    added: set[str] = set()  # data files the commit took
    fresh: list[duckdb.DuckDBPyConnection] = []  # connections opened for retries
    tries = 0
    try:

        def attempt() -> LoadResult:
            nonlocal tries
            tries += 1
            added.clear()
            result = LoadResult(stream, batch_id=batch_id)
            cur = con
            if tries > 1 and settings is not None:
                # DuckLake 1.5.5 can crash (SIGSEGV in DuckLakeCatalog::LoadNameMaps) when a
                # connection whose commit failed adds data files again: retry on a new one
                cur = connect(settings=settings)
                fresh.append(cur)
                _copy_rejects(con, cur, prepared)
            with transaction(cur):
                still = {f.landing_uri for f in pending_files(cur, stream)}
                # a data file goes in whole or not at all: when another load committed one of
                # its files first, the others wait for the next load (they stay pending)
                data = [d for d in written if d.members <= still]
                ready = still - {m for d in written if not d.members <= still for m in d.members}
                todo = [p for p in prepared if p.landed.landing_uri in ready]
                if not todo:
                    return result
                for d in data:
                    cur.execute("call ducklake_add_data_files('lake', ?, ?, schema => 'raw')",
                                [stream, d.path])
                for p in todo:
                    rows_in, loaded, rejected, reasons = load_file(cur, stream, p, batch_id,
                                                                   run_id)
                    result.files += 1
                    result.rows_in += rows_in
                    result.rows_loaded += loaded
                    result.rows_rejected += rejected
                    for reason, n in reasons.items():
                        result.reasons[reason] = result.reasons.get(reason, 0) + n
                commit_message(
                    cur,
                    f"load {stream} {folders_of([p.landed.source_uri for p in todo])}: "
                    f"{result.files} files, {result.rows_loaded:,} rows loaded, "
                    f"{result.rows_rejected:,} rejected",
                    run_id=run_id, batch_id=batch_id, stream=stream, files=result.files,
                    rows_in=result.rows_in, rows_loaded=result.rows_loaded,
                    rows_rejected=result.rows_rejected,
                )
                added.update(d.path for d in data)
            return result

        return retry_transaction(attempt)
    except BaseException:
        added.clear()  # nothing of a failed load is in the lake
        raise
    finally:
        for extra in fresh:
            extra.close()
        for p in prepared:
            if p.rejects:
                con.execute(f"drop table if exists {p.rejects}")
        # data files of a failed load, or of files another load committed first
        for d in written:
            if d.path not in added:
                remove(d.path)
