"""`make bench --merge` keeps the sections a run did not measure from the last run, and the
report says which run each kept section came from, through several merges."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is not installed

from bench import report  # noqa: E402
from bench.run import _merged  # noqa: E402


def test_kept_sections_name_their_own_run_through_several_merges():
    first = {"started": "2026-01-01T10:00:00", "load": {"x": 1}, "day": {"x": 2},
             "hour": {"x": 3}, "disk_mib": {"load": 1.0}}
    second = _merged(first, {"started": "2026-01-01T11:00:00", "hour": {"x": 4},
                             "disk_mib": {"hour": 2.0}})
    third = _merged(second, {"started": "2026-01-01T12:00:00", "day": {"x": 5},
                             "disk_mib": {}})
    assert third["load"] == {"x": 1} and third["hour"] == {"x": 4} and third["day"] == {"x": 5}
    assert third["merged"]["origin"] == {"load": "2026-01-01T10:00:00",
                                         "hour": "2026-01-01T11:00:00"}
    assert third["disk_mib"] == {"load": 1.0, "hour": 2.0}
    assert report._merged_note(third["merged"]) == (
        " Kept from earlier runs (`--merge`): load from 2026-01-01 10:00; "
        "hour from 2026-01-01 11:00.")
    assert _merged({"started": "t"}, third) is third  # nothing to keep


def test_a_scale_run_merged_into_a_whole_run_names_its_pairs_not_the_whole_runs_repetitions():
    whole = {"started": "2026-01-01T10:00:00", "config": {"reps": 3}, "load": {"x": 1},
             "hour": {"x": 2}, "disk_mib": {}}
    scale = {"started": "2026-01-01T11:00:00", "config": {"reps": 9},
             "scale": {"reps": 3}, "disk_mib": {}}
    assert report._repetitions(whole) == "3 repetitions"
    assert report._repetitions(_merged(whole, scale)) == "3 pair(s) of the scale hour"
    # a whole run that also measured the scale hour counts its repetitions
    assert report._repetitions({**whole, "scale": {"reps": 1}}) == "3 repetitions"
