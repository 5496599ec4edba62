"""Load raw: landed JSONL → `raw.<stream>`, each landed file exactly once.

The raw table's DDL in `sql/raw/<stream>.sql` is the contract: its columns say which fields
are read and their types, NOT NULL marks the required ones. A line whose required field is
missing or does not cast is rejected into `ops.rejected_rows` with the reason; an optional value
that does not cast, or a field the contract does not know, keeps the whole line in `_unmapped`
so nothing is dropped. The file's rows, its rejected rows and its `ops.load_ledger` row commit
in one DuckLake transaction, so a crash leaves either all of them or none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from uuid import uuid4

import duckdb

from clicklake.extract import LINES, partition_of
from clicklake.lake import retry_transaction, transaction

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
    """The contract columns of `raw.<stream>` (lineage columns excluded), in table order."""
    rows = con.execute(
        """
        select column_name, data_type, not is_nullable
        from duckdb_columns()
        where database_name = 'lake' and schema_name = 'raw' and table_name = ?
        order by column_index
        """,
        [stream],
    ).fetchall()
    if not rows:
        raise ValueError(f"no raw table for stream {stream!r} (add sql/raw/{stream}.sql)")
    return [Column(n, t, r) for n, t, r in rows if n not in LINEAGE]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _parsed(columns: list[Column]) -> str:
    """SQL over one landed file (`$path`): line_no, line, each field typed, and why not.

    One JSON parse per line extracts every field (as text, then cast: the text is what a
    rejection reason quotes) and one more lists its keys to spot fields the contract does not
    know. Blank lines (where extract dropped an invalid line) are not rows but keep numbering.
    """
    known = ", ".join(_lit(c.name) for c in columns)
    paths = ", ".join(_lit("$." + json.dumps(c.name)) for c in columns)
    typed, reasons, unfit = [], [], []
    for i, c in enumerate(columns, start=1):
        raw = f"v[{i}]"
        value = f"nullif(trim({raw}), '')" if c.required else raw
        cast = value if c.type == "VARCHAR" else f"try_cast({value} as {c.type})"
        typed.append(f"{cast} as {_ident(c.name)}")
        bad = "false" if c.type == "VARCHAR" else f"{value} is not null and {cast} is null"
        if c.required:
            reasons.append(
                f"case when {value} is null then {_lit('missing ' + c.name)} "
                f"when {bad} then {_lit('invalid ' + c.name + ': ')} || left({raw}, 60) end"
            )
        elif c.type != "VARCHAR":
            unfit.append(f"({bad})")
    has_unmapped = " or ".join([f"not list_has_all([{known}], json_keys(line))", *unfit])
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


def prepare(
    con: duckdb.DuckDBPyConnection, columns: list[Column], files: list[tuple]
) -> None:
    """Parse and type the files into the connection's temp table `_ready`, outside any lake
    transaction: the expensive part of a load runs while other streams commit.

    `_ready` holds every non-blank line with its file's position in `files` (`_file`), its
    typed fields, the reason it breaks the contract, and the line itself only where it is
    needed (rejected, or kept in `_unmapped`).
    """
    parsed = _parsed(columns)
    names = ", ".join(_ident(c.name) for c in columns)
    con.execute("drop table if exists _ready")
    for i, landed in enumerate(files):
        body = f"""
            select {i} as _file, line_no, {names}, _reason, _has_unmapped,
                   case when _reason is not null or _has_unmapped then line end as line
            from ({parsed})
        """
        sql = (f"create temp table _ready as {body}" if i == 0
               else f"insert into _ready {body}")
        con.execute(sql, {"path": landed[0]})


def _source_date(source_uri: str) -> date:
    """The `date=` folder of a source object (extract only lands objects that have one)."""
    part = partition_of(source_uri)
    if part is None:
        raise ValueError(f"{source_uri}: no date=YYYY-MM-DD folder in its path")
    return part[0]


def load_file(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    columns: list[Column],
    landed: tuple,
    batch_id: str,
    run_id: str,
    file_no: int = 0,
) -> tuple[int, int, int, dict[str, int]]:
    """Move one prepared file (`_ready` rows of `file_no`) into raw and ops inside the caller's
    transaction. Returns (rows_in, rows_loaded, rows_rejected, reasons)."""
    landing_uri, source_uri, rejected_uri, lines_in, lines_invalid = landed
    names = ", ".join(_ident(c.name) for c in columns)
    loaded = con.execute(
        f"""
        insert into raw.{_ident(stream)} ({names}, {", ".join(LINEAGE)})
        select {names}, case when _has_unmapped then line::json end, $source, line_no, $batch,
               now(), $source_date
        from _ready where _file = $file and _reason is null
        """,
        {"file": file_no, "source": source_uri, "batch": batch_id,
         "source_date": _source_date(source_uri)},
    ).fetchone()[0]
    reasons: dict[str, int] = {}
    # extract landed lines_in - lines_invalid objects: any not loaded broke the contract
    if loaded != lines_in - lines_invalid or rejected_uri:
        reasons = _reject(con, stream, file_no, landed, batch_id)
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
    con: duckdb.DuckDBPyConnection, stream: str, file_no: int, landed: tuple, batch_id: str
) -> dict[str, int]:
    """Write the file's rejected lines (contract breaks and extract's invalid lines) to
    `ops.rejected_rows`; return their count by reason."""
    source_uri, rejected_uri = landed[1:3]
    sidecar = (
        """
        union all
        select line_no, reason, line
        from read_json($rejected, columns = {'line_no': 'BIGINT', 'reason': 'VARCHAR',
                                             'line': 'VARCHAR'})
        """
        if rejected_uri
        else ""
    )
    con.execute(
        f"""
        create or replace temp table _rejects as
        select line_no, _reason as reason, line from _ready
        where _file = $file and _reason is not null
        {sidecar}
        """,
        {"file": file_no, **({"rejected": rejected_uri} if rejected_uri else {})},
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


# One lake transaction at a time per process. Streams load in parallel threads, and on a SQLite
# catalog a transaction that overlaps another's commit fails its own commit ("database is
# locked": its catalog snapshot is stale, and SQLite does not wait), so the retry would redo the
# stream's load. The parsing runs outside (`prepare`), side by side; what is serialized is only
# the write of typed rows, the ledger and the commit.
def pending_files(con: duckdb.DuckDBPyConnection, stream: str) -> list[tuple]:
    """Landed files of the stream that have no ledger row yet, oldest first."""
    return con.execute(
        """
        select f.landing_uri, f.source_uri, f.rejected_uri, f.lines_in, f.lines_invalid
        from ops.landed_files f
        anti join ops.load_ledger l on l.landing_uri = f.landing_uri
        where f.stream = ?
        order by f.landing_uri
        """,
        [stream],
    ).fetchall()


# Lines typed in memory at once per stream: a backlog (a backfill, a day of late files) loads
# in several batches of about this size, each its own transaction, instead of holding it all.
BATCH_LINES = 2_000_000


def batches(files: list[tuple], max_lines: int = BATCH_LINES) -> list[list[tuple]]:
    """Split pending files (oldest first) into consecutive batches of at most `max_lines`
    lines; a file larger than that is a batch of its own."""
    out: list[list[tuple]] = []
    lines = 0
    for f in files:
        if not out or (lines + f[3] > max_lines and out[-1]):
            out.append([])
            lines = 0
        out[-1].append(f)
        lines += f[3]
    return out


def load_stream(con: duckdb.DuckDBPyConnection, stream: str, run_id: str) -> LoadResult:
    """Load every pending landed file of the stream into raw: one transaction (one batch) for
    the usual hour, consecutive batches of about `BATCH_LINES` lines for a backlog.

    Each batch's files are parsed first, outside the transaction; the pending list is read
    again inside it, so a retry after a conflict or a crash never loads a file twice (a file
    another load committed meanwhile is skipped, one that landed meanwhile waits for the next
    load; two loads of one stream at the same time are kept apart by the pipeline's stream
    lock, since DuckLake does not conflict appends). The snapshot's commit message carries the
    batch id; `batch_id` is the last one.
    """
    columns = contract(con, stream)
    total = LoadResult(stream, batch_id=f"{run_id}-{stream}-{uuid4().hex[:8]}")
    for files in batches(pending_files(con, stream)):
        done = _load_batch(con, stream, columns, files, run_id)
        total.batch_id = done.batch_id
        total.files += done.files
        total.rows_in += done.rows_in
        total.rows_loaded += done.rows_loaded
        total.rows_rejected += done.rows_rejected
        for reason, n in done.reasons.items():
            total.reasons[reason] = total.reasons.get(reason, 0) + n
    return total


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    columns: list[Column],
    files: list[tuple],
    run_id: str,
) -> LoadResult:
    prepare(con, columns, files)

    def attempt() -> LoadResult:
        result = LoadResult(stream, batch_id=f"{run_id}-{stream}-{uuid4().hex[:8]}")
        with transaction(con):
            still = {f[0] for f in pending_files(con, stream)}
            todo = [(i, f) for i, f in enumerate(files) if f[0] in still]
            if not todo:
                return result
            con.execute(
                "call lake.set_commit_message('clicklake', ?, extra_info => ?)",
                [f"load {stream}", json.dumps({"batch_id": result.batch_id, "run_id": run_id})],
            )
            for i, landed in todo:
                rows_in, loaded, rejected, reasons = load_file(
                    con, stream, columns, landed, result.batch_id, run_id, i
                )
                result.files += 1
                result.rows_in += rows_in
                result.rows_loaded += loaded
                result.rows_rejected += rejected
                for reason, n in reasons.items():
                    result.reasons[reason] = result.reasons.get(reason, 0) + n
        return result

    try:
        return retry_transaction(attempt)
    finally:
        con.execute("drop table if exists _ready")
