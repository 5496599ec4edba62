"""Open the lake: the one function the CLI, the DAGs, the dashboard, notebooks and tests use.

`connect()` gives a DuckDB connection with the DuckLake catalog attached as `lake` (and made
the default database), so `raw.browser_events` or `mart.daily_kpis` just work. Extensions come
from the `duckdb-extension-*` wheels; DuckDB is told never to install anything itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import logging
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import duckdb

from clicklake.config import SQL_DIR, ConfigError, Settings, load_settings
from clicklake.sqltext import literal
from clicklake.storage import ensure_folder

log = logging.getLogger(__name__)

SCHEMAS = ("raw", "stage", "mart", "ops")
T = TypeVar("T")
_CATALOG_LOCK = threading.RLock()

_EXTENSION_MODULES = {
    "ducklake": "duckdb_extension_ducklake",
    "httpfs": "duckdb_extension_httpfs",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
}


class LakeError(RuntimeError):
    """The lake cannot be opened (no catalog yet, catalog unreachable, bad settings)."""


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load an extension from its PyPI wheel; never from the network."""
    module = importlib.import_module(_EXTENSION_MODULES[name])
    path = (
        Path(module.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / f"{name}.duckdb_extension"
    )
    if not path.is_file():
        raise LakeError(f"extension {name} for DuckDB {duckdb.__version__} missing at {path}")
    con.execute(f"LOAD '{path}'")


def new_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A bare in-memory DuckDB with ClickLake's extensions and S3 secret, no lake attached."""
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            # a missing table must be an error, never a Python variable of the same name
            "python_enable_replacements": False,
        }
    )
    load_extension(con, "ducklake")
    if settings.catalog_is_postgres:
        load_extension(con, "postgres_scanner")
    elif settings.catalog.startswith("sqlite:"):
        load_extension(con, "sqlite_scanner")
    if settings.uses_s3() or settings.s3_endpoint:
        load_extension(con, "httpfs")
        _create_s3_secret(con, settings)
    con.execute("SET TimeZone = 'UTC'")
    if settings.memory_limit:
        # DuckDB's own default is 80% of the machine; a laptop shares it with everything else
        con.execute(f"SET memory_limit = {literal(settings.memory_limit)}")
    # spill under the lake's home, not into whatever folder the process was started from
    con.execute(f"SET temp_directory = {literal(str(settings.home / 'tmp'))}")
    return con


def _create_s3_secret(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    endpoint = urlparse(settings.s3_endpoint) if settings.s3_endpoint else None
    options = {
        "KEY_ID": settings.s3_access_key_id,
        "SECRET": settings.s3_secret_access_key,
        "REGION": settings.s3_region,
        "URL_STYLE": settings.s3_url_style,
    }
    if endpoint:
        options["ENDPOINT"] = endpoint.netloc or endpoint.path
    body = ", ".join(f"{k} {literal(v)}" for k, v in options.items() if v)
    use_ssl = "false" if endpoint and endpoint.scheme == "http" else "true"
    con.execute(f"CREATE OR REPLACE SECRET clicklake_s3 (TYPE s3, {body}, USE_SSL {use_ssl})")


def _catalog_exists(settings: Settings) -> bool:
    cat = settings.ducklake_catalog()
    kind, _, target = cat.partition(":")
    if kind in ("sqlite", "duckdb"):
        path = Path(target)
        if not path.is_file():
            return False
        if kind == "sqlite":
            return _sqlite_has_lake(path)
    return True


def _sqlite_has_lake(path: Path, attempts: int = 20) -> bool:
    """Whether a SQLite file holds a DuckLake catalog. While a writer commits, a read-only
    look can fail with "database disk image is malformed" (or "locked"): look again."""
    for attempt in range(1, attempts + 1):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute(
                "select 1 from sqlite_master where name = 'ducklake_metadata'"
            ).fetchone() is not None
        except sqlite3.DatabaseError as exc:
            passing = any(s in str(exc) for s in ("malformed", "locked"))
            if not passing or attempt == attempts:
                raise
            time.sleep(0.05)
        finally:
            db.close()
    raise AssertionError("unreachable")


def connect(
    read_only: bool = False, settings: Settings | None = None, snapshot: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the lake: extensions, S3 secret, DuckLake catalog attached as `lake`.

    A writer creates the catalog, the schemas (`raw`, `stage`, `mart`, `ops`) and the raw and
    ops tables when they are missing. A reader (`read_only=True`) cannot change anything and
    raises `LakeError` when there is no lake yet. A reader given `snapshot` (a snapshot id of
    `ducklake_snapshots('lake')`) sees every table as the lake was at that snapshot (DuckLake
    time travel); an unknown or expired one raises `LakeError`.
    """
    if snapshot is not None and not read_only:
        raise LakeError("only a reader can open the lake at an earlier snapshot")
    settings = settings or load_settings()
    try:
        catalog = settings.ducklake_catalog()
    except ConfigError as exc:
        raise LakeError(str(exc)) from exc
    if read_only and not _catalog_exists(settings):
        raise LakeError("no lake yet: run `make demo` or `clicklake run` first")
    con = new_connection(settings)
    if not read_only:
        try:
            if catalog.startswith(("sqlite:", "duckdb:")):
                # first the lock: creating the catalog is a write like any other
                _hold_writer_lock(con, Path(catalog.partition(":")[2]))
            if catalog.startswith("sqlite:"):
                _sqlite_wal(Path(catalog.partition(":")[2]))
            ensure_folder(settings.data_path)
        except BaseException:
            con.close()
            raise
    data_path = settings.data_path.rstrip("/") + "/"
    options = [f"DATA_PATH {literal(data_path)}"]
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    attach = f"ATTACH {literal('ducklake:' + catalog)} AS lake ({', '.join(options)})"
    try:
        for attempt in range(1, 6):
            try:
                con.execute(attach)
                break
            except duckdb.Error as exc:
                # several workers creating a fresh Postgres catalog at once: one wins, the
                # others see its half-created tables; attaching again finds the finished one
                racing = any(s in str(exc) for s in ("duplicate key", "already exists"))
                if not racing or attempt == 5:
                    raise
                time.sleep(0.2 * attempt)
    except duckdb.Error as exc:
        con.close()
        raise LakeError(
            f"cannot open the lake catalog ({redact(catalog)}): {redact(first_line(exc))}"
        ) from exc
    con.execute("USE lake")
    if read_only:
        _lock_down(con, data_path)
    else:
        retry_transaction(lambda: _init_lake(con))
    return con


def _lock_down(con: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """Leave a reader able to read the attached lake and nothing else, for good.

    With external access off DuckDB refuses every file a query names (COPY ... TO, ATTACH,
    read_csv, glob, INSTALL/LOAD) but those under the lake's data path, which DuckLake reads
    (local or on S3); the locked configuration means no query can turn that back on (SET,
    RESET). Only `python_enable_replacements` stays settable: the dashboard switches it off
    per cursor, and replacement scans are external access, refused either way.
    """
    # the data path the catalog stored when the lake was made is the one DuckLake reads from
    # (a relative one resolves against the working folder); the settings' may be spelled apart
    stored = con.execute("select value from ducklake_options('lake') "
                         "where option_name = 'data_path'").fetchone()
    paths = {data_path}
    if stored and stored[0]:
        kept = stored[0] if "://" in stored[0] else str(Path(stored[0]).absolute())
        paths.add(kept.rstrip("/") + "/")
    con.execute(f"SET allowed_directories = [{', '.join(literal(p) for p in sorted(paths))}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET allowed_configs = ['python_enable_replacements']")
    con.execute("SET lock_configuration = true")


# the SQLite extension (which reads the embedded catalog) opens SQLite files by itself, past
# `enable_external_access`: SQL that a user types is refused when it names one of its functions
_SQLITE_FUNCTION = re.compile(r'"function_name":"sqlite_')


def check_read_only_sql(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse SQL a user types into a reader (`clicklake query`) unless every statement is a
    SELECT (FROM, SHOW, DESCRIBE, SUMMARIZE and PRAGMA reads are SELECTs to DuckDB's parser)
    that calls no SQLite function. The reader's lockdown refuses the rest too, except what the
    SQLite extension does on its own: ATTACH 'ducklake:sqlite:...' or sqlite_scan of any file.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise LakeError(f"cannot parse the query: {first_line(exc)}") from exc
    for statement in statements:
        if statement.type != duckdb.StatementType.SELECT:
            raise LakeError(f"the lake is read here: only SELECT queries, not "
                            f"{statement.type.name}")
        tree = con.execute("select json_serialize_sql($q)", {"q": statement.query}).fetchone()[0]
        if _SQLITE_FUNCTION.search(tree.replace(" ", "")):
            raise LakeError("the lake is read here: SQLite functions are not allowed")


WRITER_LOCK_POLL_S = 0.25


def _hold_writer_lock(con: duckdb.DuckDBPyConnection, catalog: Path) -> None:
    """Make `con` the only writer of an embedded lake until it closes; wait for our turn.

    A SQLite catalog cannot take concurrent DuckLake writers: under two processes commits fail
    with "disk I/O error" or "database is locked", and inlined rows can be read misaligned. So
    a writer connection attaches a small DuckDB file beside the catalog read-write: DuckDB holds
    an OS lock on it while it is attached and the OS releases it when the connection closes or
    the process dies. Another process polls (logging that it waits) until the lock is free.
    Connections of one process share the lock (DuckDB refuses a second attach in the process:
    it is ours already); their transactions are serialised by `transaction`.
    """
    path = catalog.parent / ".locks" / f"{catalog.name}.writer.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    attach = f"ATTACH {literal(str(path))} AS clicklake_writer_lock"
    t0, waiting = time.monotonic(), False
    while True:
        try:
            con.execute(attach)
            break
        except duckdb.BinderException as exc:
            if "already attached" in str(exc):  # this process is the writer already
                return
            raise
        except duckdb.IOException as exc:
            if "Could not set lock" not in str(exc):
                raise
            if not waiting:
                log.warning("waiting for another writer of the embedded lake %s to finish "
                            "(the embedded lake takes one writer at a time)", catalog)
                waiting = True
            time.sleep(WRITER_LOCK_POLL_S)
    if waiting:
        log.warning("waited %.1fs for the other writer of the embedded lake %s",
                    time.monotonic() - t0, catalog)


def _sqlite_wal(path: Path) -> None:
    """Put a SQLite catalog in WAL mode (persistent): readers then never block the writer."""
    with sqlite3.connect(path) as db:
        db.execute("pragma journal_mode=wal")


def redact(text: str) -> str:
    """Hide passwords (libpq `password=...`, quoted or not, URL `user:pw@`) from a message a
    user will see."""
    text = re.sub(r"""password\s*=\s*(?:'(?:[^'\\]|\\.)*'?|(?:[^\s'\\]|\\.)+)""",
                  "password=***", text)
    return re.sub(r"(://[^:/@\s]+):[^@\s]+@", r"\1:***@", text)


def first_line(exc: BaseException) -> str:
    """An error as one line for a user: its message's first line, or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _init_lake(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing: schemas, then every source format's raw tables
    (`sql/sources/*/raw`) and the tables of `sql/ops`."""
    have = {
        (s, t)
        for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'lake'"
        ).fetchall()
    }
    schemas = {r[0] for r in con.execute(
        "select schema_name from duckdb_schemas() where database_name = 'lake'"
    ).fetchall()}
    todo = [s for s in SCHEMAS if s not in schemas]
    from clicklake import sources  # the registry reads SQL_DIR from here

    ops = sorted((SQL_DIR / "ops").glob("*.sql"))
    ddl = [
        path
        for layer, paths in (("raw", sources.raw_ddl()), ("ops", ops))
        for path in paths
        if (layer, path.stem) not in have
    ]
    columns = set(con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where database_name = 'lake'"
    ).fetchall())
    migrate = [
        statement
        for (schema, table) in have
        for column, statements in _migrations(schema, table)
        if (schema, table, column) not in columns
        for statement in statements
    ]
    if not todo and not ddl and not migrate:
        return
    with transaction(con):
        commit_message(
            con, "create the lake" if not have else "update the lake's tables",
            schemas=todo, tables=[f"{p.parent.name}.{p.stem}" for p in ddl],
            migrations=len(migrate),
        )
        for statement in migrate:
            con.execute(statement)
        for schema in todo:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS lake.{schema}")
        for path in ddl:
            con.execute(path.read_text())


def _migrations(schema: str, table: str) -> list[tuple[str, list[str]]]:
    """Columns added since a lake was made, with the statements that add and fill them."""
    if schema == "raw":  # the _source_date lineage column, filled from the source path
        return [("_source_date", [
            f"alter table lake.raw.{table} add column _source_date date",
            f"update lake.raw.{table} set _source_date = "
            r"regexp_extract(_source_file, 'date=(\d{4}-\d{2}-\d{2})', 1)::date",
        ])]
    if (schema, table) == ("ops", "landed_files"):  # unknown (null) for files landed before
        return [("lines_blank", [
            "alter table lake.ops.landed_files add column lines_blank bigint",
        ])]
    return []


@contextmanager
def stream_lock(settings: Settings, name: str) -> Iterator[None]:
    """Hold a lock named `name` across threads, processes and machines sharing the catalog.

    DuckLake lets two transactions append to the same table without a conflict, so two loaders
    (or extractors) of one stream that start together would both see the same pending files
    and both load them. Extract and load hold this lock per stream around their whole
    transaction: the second one starts after the first committed, sees the manifest or the
    ledger, and does nothing. A Postgres catalog takes a session advisory lock there (released
    when the session ends, even after a crash); a file catalog an OS lock on a file beside it.
    """
    kind, _, target = settings.ducklake_catalog().partition(":")
    t0 = time.monotonic()
    if kind == "postgres":
        import psycopg2

        key = int(hashlib.sha1(f"clicklake:{name}".encode()).hexdigest()[:15], 16)
        pg = psycopg2.connect(target)
        try:
            with pg.cursor() as cur:
                cur.execute("select pg_advisory_lock(%s)", [key])
            _log_wait(name, t0)
            yield
        finally:
            pg.close()
        return
    path = Path(target).parent / ".locks" / f"{Path(target).name}.{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes or the process dies
        _log_wait(name, t0)
        yield


def _log_wait(name: str, since: float) -> None:
    """Log a lock wait as what it is, so it is never mistaken for the work done under it."""
    waited = time.monotonic() - since
    if waited > 1.0:
        what = name.replace("-", " lock of ", 1) if "-" in name else f"{name} lock"
        log.warning("waited %.1fs for the %s", waited, what)


def commit_message(con: duckdb.DuckDBPyConnection, message: str, **extra: object) -> None:
    """Name the snapshot the current transaction commits (author `clicklake`, `message`, and
    `extra` as JSON in its extra info), so the lake's snapshot list says what each one is."""
    con.execute("call lake.set_commit_message('clicklake', ?, extra_info => ?)",
                [message, json.dumps(extra, default=str)])


@contextmanager
def catalog_read() -> Iterator[None]:
    """Hold the process's catalog lock (the one `transaction` holds) for a few reads of the
    lake by one of several threads (the per-stream extracts and loads).

    On a SQLite catalog, DuckDB's SQLite waits for a busy database in whole seconds: two
    threads reading the lake at the same moment made one of them sleep 1 s (2 to 8 rounds in
    25 of five threads each running one query; never when they took turns)."""
    with _CATALOG_LOCK:
        yield


@contextmanager
def off_catalog(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run file work (parsing, landing, temp tables) with the in-memory database as the
    default: with `lake` the default, every name DuckDB looks up (a temp table's) reads the lake
    catalog too, with the waits `catalog_read` avoids (6 rounds in 25 stalled 1 s; none off
    the catalog). The work must name no lake table."""
    with _CATALOG_LOCK:  # leaving the lake and coming back read its catalog
        con.execute("use memory")
    try:
        yield con
    finally:
        with _CATALOG_LOCK:
            con.execute("use lake")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolled back on any error, one lake transaction at a time per process.

    Threads of one process (the per-stream extracts and loads) would otherwise overlap their
    commits: on a SQLite catalog the second fails with "database is locked" and is redone
    whole, on any catalog it may conflict. Work that needs no catalog (parsing, typing) belongs
    before the transaction, so holding the lock costs only the write.
    """
    with _CATALOG_LOCK:
        con.execute("begin")
        try:
            yield con
        except BaseException:
            with suppress(duckdb.Error):
                con.execute("rollback")
            raise
        try:
            con.execute("commit")
        except BaseException:
            with suppress(duckdb.Error):  # a failed COMMIT has rolled back already
                con.execute("rollback")
            raise


def is_conflict(exc: BaseException) -> bool:
    """Whether an error is a DuckLake write-write conflict that a retry can resolve."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.TransactionException) or (
        isinstance(exc, duckdb.Error)
        and any(s in text for s in ("conflict", "database is locked", "could not serialize"))
    )


def retry_transaction(fn: Callable[[], T], attempts: int = 8, base_delay: float = 0.05) -> T:
    """Run `fn` (a whole transaction) again on conflict, with jittered exponential backoff.

    DuckLake does not retry conflicting commits for us: a concurrent DELETE+INSERT on the same
    table fails one side with a TransactionException, and the only safe retry is the whole
    transaction, which `fn` must be.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == attempts:
                raise
            delay = base_delay * 2 ** (attempt - 1) * (1 + random.random())
            log.info("write conflict (%s), retry %d in %.2fs", first_line(exc), attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")

