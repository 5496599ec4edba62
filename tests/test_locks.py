"""Two runs of the same hour at once (a retried Airflow task next to a `clicklake run`) still
land and load every source file exactly once."""

import subprocess
import sys
from datetime import UTC, datetime

from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect

START = datetime(2024, 3, 1, 9, tzinfo=UTC)

RUN = """
import sys
from datetime import datetime, UTC
from clicklake import pipeline
from clicklake.config import load_settings
from clicklake.lake import connect
settings = load_settings({"CLICKLAKE_HOME": sys.argv[1], "CLICKLAKE_ENV_FILE": "/nonexistent"})
con = connect(settings=settings)
start = datetime(2024, 3, 1, 9, tzinfo=UTC)
end = datetime(2024, 3, 1, 11, tzinfo=UTC)
pipeline.extract(con, settings, start, end, sys.argv[2])
pipeline.load(con, settings, sys.argv[2])
"""


def test_concurrent_runs_of_the_same_hours_load_every_file_once(tmp_path):
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/x"})
    generate(settings.source_uri, START, 2, events_per_hour=300, seed=5)
    connect(settings=settings).close()  # the lake exists before the racers start
    racers = [
        subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path), f"run{i}"])
        for i in range(3)
    ]
    assert [p.wait(timeout=300) for p in racers] == [0, 0, 0]
    con = connect(read_only=True, settings=settings)
    sources = sum(1 for p in (tmp_path / "source").rglob("*.jsonl.gz"))
    landed, distinct_landed = con.execute(
        "select count(*), count(distinct source_uri) from ops.landed_files"
    ).fetchone()
    ledger, distinct_ledger = con.execute(
        "select count(*), count(distinct landing_uri) from ops.load_ledger"
    ).fetchone()
    raw, distinct_raw = con.execute(
        "select count(*), count(distinct (_source_file, _line_no)) from raw.browser_events"
    ).fetchone()
    con.close()
    assert landed == distinct_landed == sources
    assert ledger == distinct_ledger == sources
    assert raw == distinct_raw > 0


def test_a_lock_wait_is_logged_as_waiting_not_counted_as_work(tmp_path, caplog):
    import threading
    import time

    from clicklake.lake import stream_lock

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/x"})
    held = threading.Event()

    def hold():
        with stream_lock(settings, "load-browser_events"):
            held.set()
            time.sleep(1.5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    with caplog.at_level("WARNING", logger="clicklake.lake"):
        with stream_lock(settings, "load-browser_events"):
            pass
    holder.join()
    waits = [r.getMessage() for r in caplog.records]
    assert len(waits) == 1
    assert waits[0].startswith("waited 1.") and waits[0].endswith(
        "s for the load lock of browser_events")


def test_a_streams_file_work_runs_off_the_catalog_and_its_catalog_reads_take_turns(tmp_path):
    """On a SQLite catalog two threads reading the lake at once make DuckDB's SQLite sleep a
    whole second: the per-stream threads parse with the in-memory database as the default (a
    temp table's name then looks nothing up in the lake), back on the lake afterwards even
    when the work fails, and take turns for their catalog reads and commits (one lock)."""
    import threading

    import pytest

    from clicklake.lake import catalog_read, off_catalog, transaction

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    con = connect(settings=settings)
    cur = con.cursor()
    cur.execute("use lake")
    with pytest.raises(RuntimeError), off_catalog(cur):
        assert cur.execute("select current_database()").fetchone()[0] == "memory"
        cur.execute("create temp table parsed as select 1 as line_no")
        raise RuntimeError("a file that cannot be read")
    assert cur.execute("select current_database()").fetchone()[0] == "lake"
    assert cur.execute("from parsed").fetchall() == [(1,)]  # a temp table: this connection's

    other = con.cursor()
    other.execute("use lake")
    committed = threading.Event()

    def commit() -> None:
        with transaction(other):
            other.execute("select count(*) from ops.landed_files").fetchall()
        committed.set()

    with catalog_read():
        writer = threading.Thread(target=commit)
        writer.start()
        assert not committed.wait(0.5)  # the other thread's transaction waits for its turn
    writer.join(30)
    assert committed.is_set()
    con.close()
