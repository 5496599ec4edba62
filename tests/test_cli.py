"""The `clicklake` command as a user runs it: a real process, its exit status and its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import clicklake

from clicklake.config import load_settings
from clicklake.lake import connect


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single error line of a failed command; fails the test on a traceback or more."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("clicklake: ")
    return lines[0]


@pytest.fixture(scope="module")
def empty_lake(tmp_path_factory) -> Path:
    """A lake with its schemas and raw/ops tables, and no data."""
    home = tmp_path_factory.mktemp("cli")
    connect(settings=load_settings({"CLICKLAKE_HOME": str(home),
                                    "CLICKLAKE_ENV_FILE": "/nonexistent"})).close()
    return home


def test_bad_sql_prints_one_line_and_exits_1_without_a_traceback(empty_lake):
    result = clicklake(empty_lake, "query", "select nonsense")
    assert "nonsense" in one_line_error(result)
    assert result.stdout == ""


def test_query_on_an_empty_home_says_there_is_no_lake(tmp_path):
    line = one_line_error(clicklake(tmp_path, "query", "select 1"))
    assert "no lake" in line
    assert not (tmp_path / "catalog.sqlite").exists()  # a reader never creates a lake


def test_query_as_json_is_an_array_of_row_objects(empty_lake):
    sql = ("select n, s, price, day from (values (1, 'a', 2.50::decimal(18, 2), "
           "date '2024-03-01'), (2, null, 10.00, date '2024-03-02')) t(n, s, price, day) "
           "order by n")
    result = clicklake(empty_lake, "query", sql, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"n": 1, "s": "a", "price": 2.5, "day": "2024-03-01"},
        {"n": 2, "s": None, "price": 10.0, "day": "2024-03-02"},
    ]
    result = clicklake(empty_lake, "query", "select count(*) as files from ops.load_ledger",
                       "--format", "json")
    assert json.loads(result.stdout) == [{"files": 0}]


def test_run_with_end_before_start_is_a_clear_error_that_writes_nothing(tmp_path):
    result = clicklake(tmp_path, "run", "--start", "2024-03-01T05", "--end", "2024-03-01T02")
    line = one_line_error(result)
    assert "--end" in line and "--start" in line
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_catalog_is_one_line_that_never_shows_its_password(tmp_path):
    from support import free_port

    env = {"CLICKLAKE_CATALOG": f"postgresql://lake:s3cr3t-pw@127.0.0.1:{free_port()}/lake"}
    result = subprocess.run(
        [sys.executable, "-m", "clicklake.cli", "status"], cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")}
        | {"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/nonexistent"} | env,
    )
    line = one_line_error(result)
    assert "cannot open the lake catalog" in line
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "password=***" in line


def test_an_error_message_with_brackets_is_printed_as_is(empty_lake):
    line = one_line_error(clicklake(empty_lake, "query", 'select * from "[/red]"'))
    assert line == "clicklake: Catalog Error: Table with name [/red] does not exist!"


def test_a_run_never_imports_pandas(tmp_path):
    # DuckDB's client would import pandas (most of a second) on the first bound parameter
    assert clicklake(tmp_path, "generate", "--start", "2024-03-01", "--hours", "1",
                     "--events-per-hour", "50",
                     "--dest", str(tmp_path / "source")).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")}
    env |= {"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "clicklake.cli", "run",
         "--start", "2024-03-01T00", "--end", "2024-03-01T01"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "done " in result.stderr  # the hour ran: extract, load, transform, checks
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "duckdb" in imported
    # a refused `import pandas` is listed too, but a real one loads its submodules
    assert not [m for m in imported if m.startswith("pandas.")]
