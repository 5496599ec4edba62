"""Minimal reproduction for a DuckLake bug report (not a test: pytest does not collect it):
DuckLake crashes when `ducklake_add_data_files` is called again on a connection whose
previous commit failed with a write conflict.

Two connections (two DuckDB instances, as two processes would have) attach one DuckLake catalog
(SQLite by default, or DuckDB's own). Connection A opens a transaction (reads `t`: its
snapshot); connection B changes the catalog and commits; A adds a Parquet file to `t` and
commits, which conflicts; A then
retries the same transaction (begin; ducklake_add_data_files; commit) on the SAME connection.
Each scenario runs in a child process so that a SIGSEGV is seen as such.

    .venv/bin/python tests/upstream/ducklake_add_files_after_conflict.py [sqlite|duckdb] [rounds]

Prints, per scenario, how the child ended (ok, the error, or the signal).

Result with duckdb 1.5.5 and its ducklake wheel, SQLite catalog: `add_files` (B also added a
data file to `t`, so A's commit conflicts) dies with SIGSEGV on the retry's
ducklake_add_data_files, first round; `add_files_fresh` (the same, the retry on a newly attached
connection) commits every round; a conflict with a DELETE or a DROP elsewhere retries fine on the
same connection.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import tempfile
from pathlib import Path


def _load(con, name: str, module: str) -> None:
    """Load an extension from its PyPI wheel (duckdb-extension-*), never from the network."""
    import importlib

    import duckdb

    path = (Path(importlib.import_module(module).__file__).parent / "extensions"
            / f"v{duckdb.__version__}" / f"{name}.duckdb_extension")
    con.execute(f"load '{path}'")


def _attach(folder: Path, catalog: str):
    import duckdb

    con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})
    _load(con, "ducklake", "duckdb_extension_ducklake")
    if catalog == "sqlite":
        _load(con, "sqlite_scanner", "duckdb_extension_sqlite_scanner")
    target = f"ducklake:{catalog}:{folder / ('catalog.' + catalog)}"
    con.execute(f"attach '{target}' as lake (data_path '{folder / 'data'}/')")
    con.execute("use lake")
    return con


def _parquet(con, path: Path, n: int) -> str:
    con.execute(f"copy (select range as id, 'x' || range as name from range({n})) "
                f"to '{path}' (format parquet)")
    return str(path)


def scenario(kind: str, catalog: str, rounds: int) -> None:
    """One child: the conflict of `kind`, then the same add retried on the same connection."""
    folder = Path(tempfile.mkdtemp(prefix="ducklake-crash-"))
    (folder / "data").mkdir()
    a = _attach(folder, catalog)
    a.execute("create table t (id bigint, name varchar)")
    a.execute("create table other (id bigint)")
    a.close()
    if catalog == "sqlite":  # as ClickLake does: readers never block the writer
        import sqlite3

        with sqlite3.connect(folder / "catalog.sqlite") as db:
            db.execute("pragma journal_mode=wal")
    a = _attach(folder, catalog)
    b = _attach(folder, catalog)
    for i in range(rounds):
        file_a = _parquet(a, folder / f"a{i}.parquet", 10)
        file_b = _parquet(b, folder / f"b{i}.parquet", 10)
        a.execute("begin")
        a.execute("select count(*) from t").fetchone()  # A's snapshot
        # B commits first
        b.execute("begin")
        if kind in ("add_files", "add_files_fresh"):
            b.execute("call ducklake_add_data_files('lake', 't', ?)", [file_b])
            b.execute("delete from other")
        elif kind == "delete":
            b.execute("delete from t")
            b.execute("delete from other")
        elif kind == "alter":
            b.execute(f"alter table t add column c{i} integer")
        elif kind == "drop_other":
            b.execute("drop table other")
            b.execute("create table other (id bigint)")
        b.execute("commit")
        try:
            a.execute("call ducklake_add_data_files('lake', 't', ?)", [file_a])
            a.execute("insert into other values (?)", [i])
            a.execute("commit")
            print(f"  {kind} round {i}: A committed (no conflict)", flush=True)
            continue
        except Exception as exc:  # the conflict
            print(f"  {kind} round {i}: A's commit failed: {str(exc).splitlines()[0][:120]}",
                  flush=True)
            try:
                a.execute("rollback")
            except Exception:
                pass
        if kind.endswith("_fresh"):  # the workaround: retry on a connection of its own
            a.close()
            a = _attach(folder, catalog)
        # the retry (on the same connection, but for *_fresh)
        a.execute("begin")
        a.execute("call ducklake_add_data_files('lake', 't', ?)", [file_a])
        a.execute("insert into other values (?)", [i])
        a.execute("commit")
        print(f"  {kind} round {i}: the retry committed", flush=True)


def main() -> None:
    catalog = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    import duckdb

    print(f"duckdb {duckdb.__version__}, catalog {catalog}")
    ctx = mp.get_context("spawn")
    for kind in ("add_files", "add_files_fresh", "delete", "drop_other"):
        child = ctx.Process(target=scenario, args=(kind, catalog, rounds))
        child.start()
        child.join(120)
        if child.is_alive():
            child.kill()
            print(f"{kind}: HUNG (killed after 120 s)")
        elif child.exitcode and child.exitcode < 0:
            print(f"{kind}: CRASHED with signal {-child.exitcode}")
        else:
            print(f"{kind}: exit {child.exitcode}")


if __name__ == "__main__":
    main()
