"""What changed: a day's figures, snapshot by snapshot, and the files that moved them.

A tracker day's last two hours and the next day's first run hour by hour; 30 lines of the
day's 22:00 file are held back and arrive in the next day's 01:00 folder (a late file, after a
later day was reported), beside a file that resends 20 of the 23:00 lines (duplicates) and a
line that is not JSON (rejected). The "what changed" view must explain the last move
figure by figure: the figures before it equal a lake built without the held-back lines, the
figures after it equal the generator's truth, and the events it gained are the events stage
kept from the late file, while the resent file adds nothing and its 20 rows are duplicates.
"""

from __future__ import annotations

import gzip
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support import run_hours

from clicklake import dashboard as db
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect

START = datetime(2024, 3, 4, 22, tzinfo=UTC)
DAY = date(2024, 3, 4)
HELD, RESENT = 30, 20
FIGURES = ["events", "sessions", "visitors", "pageviews", "add_to_carts", "orders", "revenue"]


def _settings(home: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")}
    env.update(CLICKLAKE_HOME=str(home), CLICKLAKE_ENV_FILE=str(home / "no.env"))
    return load_settings(env)


def _lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)


def _figures(settings, snapshot: int | None = None) -> dict:
    con = connect(read_only=True, settings=settings, snapshot=snapshot)
    try:
        row = con.execute(f"select {', '.join(FIGURES)} from mart.daily_kpis where date = ?",
                          [DAY]).fetchone()
    finally:
        con.close()
    return {f: float(v) if f == "revenue" else v for f, v in zip(FIGURES, row, strict=True)}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """The lake with the late day, its settings, the truth, and the figures of a lake that
    never received the held-back lines."""
    home = tmp_path_factory.mktemp("history")
    generated = home / "generated"
    summary = generate(generated, START, 3, events_per_hour=150, seed=5)
    settings = _settings(home / "lake")
    source = Path(settings.source_uri)
    shutil.copytree(generated, source, ignore=shutil.ignore_patterns("truth.json"))
    first = source / "browser_events/date=2024-03-04/hour=22/part-0000.jsonl.gz"
    lines = _lines(first)
    first.write_bytes(gzip.compress("".join(lines[:-HELD]).encode()))
    # the same files without the held-back lines, in a lake that never gets them
    without = _settings(home / "without")
    shutil.copytree(source, without.source_uri)
    run_hours(without, START, 3)
    run_hours(settings, START, 3)
    later = source / "browser_events/date=2024-03-05/hour=01"
    later.mkdir(parents=True)
    (later / "late.jsonl").write_text("".join(lines[-HELD:]) + "{not json\n")
    resent = _lines(source / "browser_events/date=2024-03-04/hour=23/part-0000.jsonl.gz")
    (later / "resent.jsonl").write_text("".join(resent[:RESENT]))
    run_hours(settings, START + timedelta(hours=3), 1)
    con = connect(read_only=True, settings=settings)
    yield {"con": con, "settings": settings, "truth": summary["truth"]["days"][str(DAY)],
           "without": _figures(without)}
    con.close()


def test_the_late_days_versions_are_its_builds_and_the_late_file(lake):
    history = db.day_history(lake["con"], DAY, lake["settings"].timezone)
    versions = history.versions
    assert len(versions) >= 2  # its hours (and the next day's first, if it touched it), then
    assert versions["previous_snapshot"].isna().sum() == 1  # the late file
    assert list(versions["snapshot_id"].iloc[:-1]) == list(versions["previous_snapshot"].iloc[1:])
    days = db.restated_days(lake["con"]).set_index("day")
    # the late file moved the day after the next day had been reported: one late move
    assert days.loc[str(DAY), "late_moves"] == 1
    assert days.loc[str(DAY + timedelta(days=1)), "late_moves"] == 0
    assert (days.loc[str(DAY), "first_events"], days.loc[str(DAY), "events"]) == (
        versions["events"].iloc[0], lake["truth"]["events"])


def test_the_last_move_is_explained_figure_by_figure(lake):
    history = db.day_history(lake["con"], DAY, lake["settings"].timezone)
    before, after = history.versions.iloc[-2], history.versions.iloc[-1]
    # before the late file: exactly a lake that never got the held-back lines; after: the truth
    assert {f: before[f] for f in FIGURES} == lake["without"]
    truth = lake["truth"]
    assert {f: after[f] for f in FIGURES if f != "revenue"} == {
        f: truth[f] for f in FIGURES if f != "revenue"}
    assert float(after["revenue"]) == pytest.approx(truth["revenue"])
    for figure in ("events", "sessions", "visitors", "pageviews", "orders"):
        assert after[f"{figure}_change"] == truth[figure] - lake["without"][figure], figure
    # the files behind it: the late file's events are the events gained; the resent file's
    # rows are all duplicates; the bad line is rejected with its reason
    files = history.files[history.files["version"] == after["snapshot_id"]]
    by_name = {Path(f).name: r for f, r in zip(files["file"], files.to_dict("records"),
                                                strict=True)}
    assert set(by_name) == {"late.jsonl", "resent.jsonl"}
    late, dup = by_name["late.jsonl"], by_name["resent.jsonl"]
    assert (late["late"], late["rows_in"], late["rows_loaded"], late["rows_rejected"],
            late["reasons"]) == (True, HELD + 1, HELD, 1, "invalid JSON")
    assert (late["raw_events"], late["events_kept"], late["duplicates"]) == (HELD, HELD, 0)
    assert (dup["rows_loaded"], dup["raw_events"], dup["events_kept"], dup["duplicates"]) == (
        RESENT, RESENT, 0, RESENT)
    assert after["events_change"] == files["events_kept"].sum() == HELD
    assert after["why"] == (f"+{HELD} events from 1 late file; {RESENT} duplicates removed "
                            "(1 file); 1 line rejected (invalid JSON)")


def test_every_move_is_the_events_its_files_added(lake):
    history = db.day_history(lake["con"], DAY, lake["settings"].timezone)
    kept = history.files.groupby("version")["events_kept"].sum()
    moved = history.versions["events_change"].fillna(history.versions["events"])
    assert [kept.get(v, 0) for v in history.versions["snapshot_id"]] == moved.tolist()
    on_time = history.files[history.files["version"] != history.versions["snapshot_id"].iloc[-1]]
    assert not on_time["late"].any()
    assert history.versions["why"].iloc[1] == (
        f"+{history.versions['events_change'].iloc[1]} events from 1 on-time file")


def test_as_of_an_earlier_snapshot_the_day_has_not_moved_yet(lake):
    history = db.day_history(lake["con"], DAY, lake["settings"].timezone)
    pinned_at = int(history.versions["snapshot_id"].iloc[-2])
    con = connect(read_only=True, settings=lake["settings"], snapshot=pinned_at)
    try:
        earlier = db.day_history(con, DAY, lake["settings"].timezone)
        days = db.restated_days(con)
    finally:
        con.close()
    assert len(earlier.versions) == 3
    assert earlier.versions["events"].iloc[-1] == lake["without"]["events"]
    assert "late.jsonl" not in set(earlier.files["file"].map(lambda f: Path(f).name))
    assert days["late_moves"].sum() == 0
