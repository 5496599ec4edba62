"""Several `clicklake run`s at once on one embedded lake (a retried Airflow task next to a
manual run, a backfill started twice): every process succeeds, in turn if it must, and the
lake is the one a single clean run makes. The embedded (SQLite) catalog takes one writer at a
time; a writer that has to wait says so."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect

START = datetime(2024, 3, 1, 9, tzinfo=UTC)
HOURS = ("--start", "2024-03-01T09", "--end", "2024-03-01T10")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict, int]:
    """One hour of small traffic shared by every lake here: folder, truth, source files."""
    folder = tmp_path_factory.mktemp("source")
    truth = generate(folder, START, 1, events_per_hour=80, seed=11)["truth"]
    files = sum(1 for p in folder.rglob("*") if p.is_file() and p.name != "truth.json")
    return folder, truth, files


def _start_run(home: Path, source: Path) -> subprocess.Popen:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("CLICKLAKE_") and not k.startswith("AWS_")}
    env = base | {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent",
                  "CLICKLAKE_SOURCE_URI": str(source), "CLICKLAKE_WORKERS": "2"}
    return subprocess.Popen([sys.executable, "-m", "clicklake.cli", "run", *HOURS], cwd=home,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _race(home: Path, source: Path, n: int) -> list[str]:
    """Start `n` runs of the same hour on the lake under `home` at once; return the failures
    (exit status and last line of each failed process)."""
    home.mkdir(parents=True, exist_ok=True)
    racers = [_start_run(home, source) for _ in range(n)]
    failures = []
    for proc in racers:
        _out, err = proc.communicate(timeout=240)
        if proc.returncode != 0:
            failures.append(f"exit {proc.returncode}: {(err.strip().splitlines() or [''])[-1]}")
    return failures


def _assert_one_clean_run(home: Path, source: Path, truth: dict, files: int) -> None:
    settings = load_settings({"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent",
                              "CLICKLAKE_SOURCE_URI": str(source)})
    con = connect(read_only=True, settings=settings)
    try:
        landed = con.execute(
            "select count(*), count(distinct source_uri) from ops.landed_files").fetchone()
        raw = con.execute(
            "select count(*), count(distinct (_source_file, _line_no)) from raw.browser_events"
        ).fetchone()
        kpis = {str(day): row for day, *row in con.execute(
            "select date, events, sessions, visitors, pageviews, add_to_carts, orders, "
            "revenue from mart.daily_kpis order by date").fetchall()}
    finally:
        con.close()
    assert landed == (files, files)
    assert raw[0] == raw[1] == sum(day["events"] for day in truth["days"].values())
    assert sorted(kpis) == sorted(truth["days"])
    for day, want in truth["days"].items():
        assert kpis[day] == [want["events"], want["sessions"], want["visitors"],
                             want["pageviews"], want["add_to_carts"], want["orders"],
                             Decimal(str(want["revenue"]))], day


def test_two_runs_of_the_same_hour_at_once_both_succeed_ten_times_out_of_ten(
    tmp_path, source
):
    folder, truth, files = source
    failures = {}
    for trial in range(10):  # half on a fresh lake, half on one that exists already
        home = tmp_path / f"lake{trial // 2}"
        failures.update({f"trial {trial}, {i}": f for i, f in
                         enumerate(_race(home, folder, 2))})
    assert failures == {}
    for lake in range(5):
        _assert_one_clean_run(tmp_path / f"lake{lake}", folder, truth, files)


def test_four_runs_creating_one_fresh_lake_at_once_all_succeed(tmp_path, source):
    folder, truth, files = source
    assert _race(tmp_path / "lake", folder, 4) == []
    _assert_one_clean_run(tmp_path / "lake", folder, truth, files)


def test_a_writer_that_waits_for_another_says_so(tmp_path, source, caplog):
    folder, _truth, _files = source
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/x",
                              "CLICKLAKE_SOURCE_URI": str(folder)})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from clicklake.config import load_settings\nfrom clicklake.lake import connect\n"
         "con = connect(settings=load_settings({'CLICKLAKE_HOME': sys.argv[1], "
         "'CLICKLAKE_ENV_FILE': '/x'}))\nprint('open', flush=True)\ntime.sleep(2)\n",
         str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with caplog.at_level("WARNING", logger="clicklake.lake"):
            connect(settings=settings).close()
    finally:
        holder.wait(timeout=30)
    waits = [r.getMessage() for r in caplog.records if "waiting for another writer" in
             r.getMessage()]
    assert len(waits) == 1 and str(tmp_path / "catalog.sqlite") in waits[0]
    assert any(r.getMessage().startswith("waited ") for r in caplog.records)
