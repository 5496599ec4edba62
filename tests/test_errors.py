"""Errors a user can cause get one line: a read-only or full disk, a landing folder that cannot
be written, a lake on a read-only mount, a bad time zone, a catalog password with special
characters (it connects, and is never shown); `status` after a rebuild; a range run with
nothing new; quarantined files shown to the user.

A read-only folder is a real one: as root (where chmod does not stop writes) a read-only bind
mount, and a full disk a small tmpfs, each inside a private mount namespace (`unshare -m`);
as another user, chmod.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from support import clicklake

from clicklake import dashboard
from clicklake.config import load_settings
from clicklake.lake import connect

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = os.geteuid() == 0


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error line of a failed command (the last line; earlier ones are its progress),
    never a traceback."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    line = [x for x in result.stderr.splitlines() if x.strip()][-1]
    assert line.startswith("clicklake: "), result.stderr[-3000:]
    return line


def env_for(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("CLICKLAKE_", "AWS_"))}
    return base | {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent"} | extra


def in_namespace(script: str, home: Path, *args: str, **extra: str
                 ) -> subprocess.CompletedProcess:
    """Run `script` (sh; mounts first) then `clicklake ARGS` in a private mount namespace."""
    cli = " ".join([sys.executable, "-m", "clicklake.cli", *(f"'{a}'" for a in args)])
    return subprocess.run(["unshare", "-m", "sh", "-c", f"set -e; {script}; exec {cli}"],
                          cwd=home, env=env_for(home, **extra), capture_output=True, text=True,
                          timeout=120)


def read_only(folder: Path, home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """`clicklake ARGS` with `folder` read-only."""
    if IS_ROOT:
        f = str(folder)
        return in_namespace(f"mount --bind '{f}' '{f}'; mount -o remount,ro,bind '{f}' '{f}'",
                            home, *args, **extra)
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
    for p, mode in modes.items():
        p.chmod(mode & ~0o222)
    try:
        return clicklake(home, *args, env=extra)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def generate(home: Path, hours: int = 1, seed: int = 42, start: str = "2024-03-01") -> None:
    done = clicklake(home, "generate", "--start", start, "--hours", str(hours),
                     "--events-per-hour", "40", "--seed", str(seed))
    assert done.returncode == 0, done.stderr


def run(home: Path, start: str, end: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clicklake.cli", "run", "--start", start,
                           "--end", end], cwd=home, env=env_for(home), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    """A lake home with one hour (2024-03-01T00) run through the CLI."""
    home = tmp_path_factory.mktemp("lake")
    generate(home)
    done = run(home, "2024-03-01T00", "2024-03-01T01")
    assert done.returncode == 0, done.stderr[-3000:]
    return home


def runs_since(home: Path, before: set[str]) -> list[tuple]:
    settings = load_settings({"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent"})
    con = connect(read_only=True, settings=settings)
    try:
        rows = con.execute("select run_id, step, target, rows, message from ops.runs "
                           "order by started_at, step").fetchall()
    finally:
        con.close()
    return [r for r in rows if r[0] not in before]


def run_ids(home: Path) -> set[str]:
    return {r[0] for r in runs_since(home, set())}


# -- the disk ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["status"], ["query", "select 1"]])
def test_a_lake_on_a_read_only_mount_is_one_line_naming_its_folder(lake, command):
    line = one_line_error(read_only(lake, lake, *command))
    assert str(lake) in line
    assert "read-only" in line or "not writable" in line
    assert "OperationalError" not in line


def test_a_landing_folder_on_a_read_only_mount_is_one_line_naming_it(tmp_path):
    generate(tmp_path)
    landing = tmp_path / "landing"
    landing.mkdir()
    line = one_line_error(read_only(landing, tmp_path, "run", "--start", "2024-03-01T00",
                                    "--end", "2024-03-01T01"))
    assert str(landing) in line
    assert "CLICKLAKE_LANDING_URI" in line


def test_a_landing_path_below_a_file_is_one_line_naming_it(tmp_path):
    generate(tmp_path)
    (tmp_path / "not-a-folder").write_text("a file, not a folder\n")
    result = clicklake(tmp_path, "run", "--start", "2024-03-01T00", "--end", "2024-03-01T01",
                       env={"CLICKLAKE_LANDING_URI": str(tmp_path / "not-a-folder" / "landing")})
    line = one_line_error(result)
    assert str(tmp_path / "not-a-folder") in line
    assert "a file stands where a folder is expected" in line


@pytest.mark.skipif(not IS_ROOT, reason="a full disk is a small tmpfs, which only root mounts")
def test_a_full_disk_is_one_line_that_says_so(lake, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    fill = f"mount -t tmpfs -o size=8m tmpfs '{home}'; {sys.executable} -m clicklake.cli init " \
           f">/dev/null; dd if=/dev/zero of='{home}/fill' bs=64k 2>/dev/null || true"
    result = in_namespace(fill, tmp_path, "run", "--start", "2024-03-01T00",
                          "--end", "2024-03-01T01", CLICKLAKE_HOME=str(home),
                          CLICKLAKE_SOURCE_URI=str(lake / "source"))
    line = one_line_error(result)
    assert "the disk is full" in line
    assert str(home) in line


# -- settings ---------------------------------------------------------------------------------


def test_an_unknown_time_zone_is_refused_before_anything_is_extracted(tmp_path):
    generate(tmp_path)
    result = clicklake(tmp_path, "run", "--start", "2024-03-01T00", "--end", "2024-03-01T01",
                       env={"CLICKLAKE_TIMEZONE": "Europe/Atlantis"})
    line = one_line_error(result)
    assert "CLICKLAKE_TIMEZONE='Europe/Atlantis'" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]  # no lake, no landing


PASSWORD = "p@ss wo'rd \\ = %x"


@pytest.fixture
def odd_role(postgres) -> str:
    """A role whose password has a space, a quote, a backslash, `=`, `@` and `%`, owning a
    fresh database; returns its `postgresql://` URL (the password percent-encoded)."""
    import psycopg2
    from psycopg2 import sql

    name = f"odd_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    con = psycopg2.connect(postgres.dsn("postgres"))
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql.SQL("create role {} login password %s").format(sql.Identifier(name)),
                        [PASSWORD])
            cur.execute(sql.SQL("create database {} owner {}").format(
                sql.Identifier(name), sql.Identifier(name)))
    finally:
        con.close()
    return f"postgresql://{name}:{quote(PASSWORD, safe='')}@{postgres.host}:{postgres.port}/{name}"


def _leaks(text: str) -> list[str]:
    """Pieces of the password found in `text` (its words of 3+ characters, and the whole)."""
    pieces = {PASSWORD, quote(PASSWORD, safe=""), "p@ss", "wo'rd", "wo\\'rd"}
    return [p for p in pieces if p in text]


def test_a_catalog_password_with_special_characters_connects_and_is_never_shown(
        odd_role, tmp_path):
    done = clicklake(tmp_path, "init", env={"CLICKLAKE_CATALOG": odd_role})
    assert done.returncode == 0, done.stderr
    assert "lake ready" in done.stderr
    settings = load_settings({"CLICKLAKE_CATALOG": odd_role, "CLICKLAKE_ENV_FILE": "/x"})
    assert not _leaks(repr(settings))

    wrong = odd_role.replace(quote(PASSWORD, safe=""), quote(PASSWORD + " x", safe=""))
    failed = clicklake(tmp_path, "status", env={"CLICKLAKE_CATALOG": wrong})
    line = one_line_error(failed)
    assert "password authentication failed" in line
    assert not _leaks(failed.stderr + failed.stdout), failed.stderr
    # the debug traceback holds the whole chain of exceptions, each one scrubbed
    debug = clicklake(tmp_path, "status", env={"CLICKLAKE_CATALOG": wrong,
                                               "CLICKLAKE_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert "password=***" in debug.stderr
    assert not _leaks(debug.stderr + debug.stdout), debug.stderr


# -- status -----------------------------------------------------------------------------------


def test_status_shows_the_checks_of_the_latest_run_by_time_after_a_rebuild(tmp_path):
    generate(tmp_path, hours=2)
    assert run(tmp_path, "2024-03-01T00", "2024-03-01T01").returncode == 0
    assert clicklake(tmp_path, "rebuild").returncode == 0  # run id `rebuild-…`: sorts last
    assert run(tmp_path, "2024-03-01T01", "2024-03-01T02").returncode == 0
    latest = clicklake(tmp_path, "query", "select run_id, check_name from ops.check_results "
                       "where run_id = (select arg_max(run_id, checked_at) from ops.check_results) "
                       "order by check_name", "--format", "csv")
    rows = [x.split(",") for x in latest.stdout.splitlines()[1:]]
    assert rows and {r[0][:12] for r in rows} == {"20240301T01-"}, latest.stdout
    status = clicklake(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    section = status.stdout.split("checks of the last run", 1)[1].split("rows per table")[0]
    shown = sorted(line.split("│")[1].strip() for line in section.splitlines()
                   if line.startswith("│"))
    assert shown == [r[1] for r in rows]


# -- a range with nothing new -----------------------------------------------------------------


def test_ten_empty_years_say_so_and_record_one_run(lake):
    """87,648 empty hours are one skipped run, not a run per hour (a run per hour would take
    most of an hour: the timeout only keeps a regression from hanging the suite)."""
    before = run_ids(lake)
    try:
        result = run(lake, "2010-01-01T00", "2020-01-01T00", timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("ten empty years did not finish in two minutes")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "nothing to do" in result.stderr
    new = runs_since(lake, before)
    assert [(r[1], r[2], r[3]) for r in new] == [
        ("skipped", "2010-01-01T00..2020-01-01T00", 87_648)]


def test_a_range_runs_only_the_hours_with_new_files_and_still_takes_late_ones(tmp_path):
    generate(tmp_path, hours=4)
    assert run(tmp_path, "2024-03-01T00", "2024-03-01T04").returncode == 0
    source = tmp_path / "source"
    # a late file in an hour already run, and a folder no source format reads
    late = source / "browser_events" / "date=2024-03-01" / "hour=01" / "late.jsonl"
    first = next((source / "browser_events" / "date=2024-03-01" / "hour=01").glob("*.jsonl*"))
    lines = (gzip.open(first, "rt") if first.suffix == ".gz" else first.open()).readlines()[:3]
    late.write_text("".join(x.replace('"event_id":"', '"event_id":"late-') for x in lines))
    mystery = source / "mystery_events" / "date=2024-03-01" / "hour=04"
    mystery.mkdir(parents=True)
    (mystery / "a.jsonl").write_text('{"x": 1}\n')
    before = run_ids(tmp_path)

    result = run(tmp_path, "2024-03-01T03", "2024-03-01T06")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 of 3 hours have nothing new" in result.stderr
    new = runs_since(tmp_path, before)
    assert {r[0][:11] for r in new} == {"20240301T03"}  # hour 03 ran, the record is 03's too
    extracts = [r for r in new if r[1] == "extract" and r[2] == "browser_events"]
    assert [(r[3], r[4].split(",")[0]) for r in extracts] == [(3, "1 files")]
    unread = [r for r in new if r[1] == "unread"]
    assert [(r[2], r[3]) for r in unread] == [("mystery_events", 1)]  # reported once
    shutil.rmtree(source / "mystery_events")


# -- quarantined files ------------------------------------------------------------------------


def test_a_quarantined_file_is_listed_by_status_and_the_data_health_queries(tmp_path):
    generate(tmp_path)
    bad = tmp_path / "source" / "geo_events" / "date=2024-03-01" / "hour=00" / "broken.jsonl.gz"
    bad.write_bytes(b"these bytes are not gzip at all")
    assert run(tmp_path, "2024-03-01T00", "2024-03-01T01").returncode == 0
    status = clicklake(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    section = status.stdout.split("quarantined files", 1)[1].split("checks of the last run")[0]
    assert "date=2024-03-01/hour=00/broken.jsonl.gz" in section
    assert "unreadable file: Not a gzipped file" in section

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/x"})
    con = connect(read_only=True, settings=settings)
    try:
        found = dashboard.quarantined_files(con)
    finally:
        con.close()
    assert list(found["object"]) == [str(bad)]
    assert list(found["stream"]) == ["geo_events"]
    assert found["reason"][0].startswith("unreadable file:")
    assert found["version"][0] and found["quarantined_at"].notna().all()
