import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clicklake.generate import EVENT_STREAMS, FAULTS, STREAMS, generate

START = datetime(2024, 3, 1, 22, tzinfo=UTC)  # the runs below cross midnight
LAYOUT = re.compile(
    r"(?P<stream>\w+)/date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/"
    r"(?:part-0000|late-(?P<origin>\d{10}))\.jsonl\.gz"
)
REQUIRED = {"browser_events": ("event_id", "click_id", "event_timestamp"),
            "location_events": ("event_id",), "device_events": ("click_id",),
            "geo_events": ("click_id",), "products": ("product_id", "price", "updated_at")}


def _run(tmp_path: Path, name: str = "source", **kwargs) -> tuple[Path, dict]:
    args = {"start": START, "hours": 4, "events_per_hour": 400, "seed": 7} | kwargs
    dest = tmp_path / name
    return dest, generate(dest, **args)


def _files(dest: Path) -> dict[str, dict]:
    """relative path -> its layout parts (stream, folder hour, origin hour of a late file)."""
    found = {}
    for path in sorted(dest.rglob("*.jsonl.gz")):
        rel = path.relative_to(dest).as_posix()
        m = LAYOUT.fullmatch(rel)
        assert m, f"{rel} is not in the source layout"
        hour = datetime.fromisoformat(f"{m['date']}T{m['hour']}:00+00:00")
        origin = m["origin"] and datetime.strptime(m["origin"], "%Y%m%d%H").replace(tzinfo=UTC)
        found[rel] = {"path": path, "stream": m["stream"], "hour": hour, "origin": origin}
    return found


def _lines(path: Path) -> list[str]:
    text = gzip.decompress(path.read_bytes()).decode()
    assert text.endswith("\n")
    return text[:-1].split("\n")


def _ts(value) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _valid(stream: str, line: str) -> dict | None:
    """The row a correct pipeline keeps, or None for a line it must reject."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    if not isinstance(row, dict) or any(row.get(k) is None for k in REQUIRED[stream]):
        return None
    if stream == "browser_events" and _ts(row["event_timestamp"]) is None:
        return None
    return row


def _rows(dest: Path) -> dict[str, list[tuple[dict, dict]]]:
    """stream -> (file info, valid row) for every valid line, duplicates included."""
    rows = defaultdict(list)
    for info in _files(dest).values():
        for line in _lines(info["path"]):
            if (row := _valid(info["stream"], line)) is not None:
                rows[info["stream"]].append((info, row))
    return rows


STEPS = {"/": "browse", "/category": "browse", "/product": "add_to_cart", "/cart": "cart",
         "/checkout": "checkout", "/confirmation": "purchase"}
ORDER = {"browse": 1, "add_to_cart": 2, "cart": 3, "checkout": 4, "purchase": 5}


def _recompute(dest: Path) -> tuple[dict, int]:
    """The daily KPIs from the files alone, the way a correct pipeline reads them, and how many
    order items were priced by a price change: dedupe on ids, join, price at order time."""
    rows = _rows(dest)
    browser = {r["event_id"]: r for _, r in rows["browser_events"]}
    location = {r["event_id"]: r for _, r in rows["location_events"]}
    device = {r["click_id"]: r for _, r in rows["device_events"]}
    history = defaultdict(list)
    for _, r in rows["products"]:
        history[int(r["product_id"])].append((_ts(r["updated_at"]), round(r["price"] * 100)))
    visits = defaultdict(list)
    for e in browser.values():
        visits[e["click_id"]].append((_ts(e["event_timestamp"]), e["event_id"], e["event_type"]))
    days = defaultdict(lambda: dict.fromkeys(
        ("events", "sessions", "pageviews", "add_to_carts", "orders", "revenue"), 0))
    visitors, by_source, changed_items = defaultdict(set), defaultdict(Counter), 0
    by_product, funnel = defaultdict(Counter), defaultdict(Counter)
    for click_id, events in visits.items():
        events.sort()
        first = location[events[0][1]]
        source = first.get("utm_source") or "(none)"
        start_day = events[0][0].date().isoformat()
        days[start_day]["sessions"] += 1
        by_source[start_day, source]["sessions"] += 1
        basket, reached = [], set()
        for ts, event_id, event_type in events:
            day, path = ts.date().isoformat(), location[event_id]["page_url_path"]
            days[day]["events"] += 1
            visitors[day].add(device[click_id]["user_domain_id"])
            if event_type != "pageview":
                continue
            days[start_day]["pageviews"] += 1  # on the visit's day, as GA's totals count
            reached.add(STEPS[path.split("_")[0]])
            if m := re.fullmatch(r"/product_(\d+)", path):
                days[day]["add_to_carts"] += 1
                basket.append(int(m[1]))
                by_product[day, m[1]]["add_to_carts"] += 1
            elif path == "/confirmation":
                assert basket, "an order without items"
                prices = [max(v for v in history[pid] if v[0] <= ts) for pid in basket]
                changed_items += sum(v[0] > min(history[pid])[0]
                                     for v, pid in zip(prices, basket, strict=True))
                cents = sum(p for _, p in prices)
                for (_, price), pid in zip(prices, basket, strict=True):
                    by_product[day, str(pid)]["units"] += 1
                    by_product[day, str(pid)]["revenue"] += price
                days[day]["orders"] += 1
                days[day]["revenue"] += cents
                by_source[day, source]["orders"] += 1
                by_source[day, source]["revenue"] += cents
                basket = []
        furthest = max(ORDER[s] for s in reached)
        for step in ORDER:
            funnel[start_day][step] += ORDER[step] <= furthest
    for day, kpis in days.items():
        kpis["visitors"] = len(visitors[day])
        kpis["revenue"] = round(kpis["revenue"] / 100, 2)
        kpis["by_utm_source"] = {
            s: {"sessions": c["sessions"], "orders": c["orders"],
                "revenue": round(c["revenue"] / 100, 2)}
            for (d, s), c in sorted(by_source.items()) if d == day
        }
        kpis["by_product"] = {
            p: {"add_to_carts": c["add_to_carts"], "units": c["units"],
                "revenue": round(c["revenue"] / 100, 2)}
            for (d, p), c in sorted(by_product.items()) if d == day
        }
        kpis["funnel"] = dict(sorted(funnel[day].items()))
    return dict(days), changed_items


def test_the_same_seed_writes_identical_bytes(tmp_path):
    a, _ = _run(tmp_path, "a", faults=FAULTS)
    b, _ = _run(tmp_path, "b", faults=FAULTS)
    files_a = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
    assert len(files_a) > 20
    assert files_a == files_b


def test_a_different_seed_writes_different_files(tmp_path):
    a, summary_a = _run(tmp_path, "a", seed=1)
    b, summary_b = _run(tmp_path, "b", seed=2)
    rel = "browser_events/date=2024-03-01/hour=22/part-0000.jsonl.gz"
    assert (a / rel).read_bytes() != (b / rel).read_bytes()
    assert summary_a["truth"]["days"] != summary_b["truth"]["days"]


def test_files_follow_the_source_layout_one_part_file_per_stream_and_hour(tmp_path):
    dest, summary = _run(tmp_path)
    files = _files(dest)
    hours = [START + timedelta(hours=h) for h in range(4)]
    for stream in EVENT_STREAMS:
        assert sorted(f["hour"] for f in files.values() if f["stream"] == stream) == hours
    assert START in {f["hour"] for f in files.values() if f["stream"] == "products"}
    assert (dest / "truth.json").exists() and summary["files"] == len(files)
    assert summary["lines"] == sum(len(_lines(f["path"])) for f in files.values())


def test_every_line_lies_in_its_files_hour(tmp_path):
    dest, _ = _run(tmp_path, hours=5)
    rows = _rows(dest)
    event_hour, visit_hour = {}, {}
    for info, row in rows["browser_events"]:
        ts = _ts(row["event_timestamp"])
        assert info["hour"] <= ts < info["hour"] + timedelta(hours=1)
        event_hour[row["event_id"]] = info["hour"]
        visit_hour[row["click_id"]] = min(info["hour"], visit_hour.get(row["click_id"], ts))
    for info, row in rows["location_events"]:
        assert event_hour[row["event_id"]] == info["hour"]
    for stream in ("device_events", "geo_events"):
        assert {r["click_id"]: i["hour"] for i, r in rows[stream]} == visit_hour
    for info, row in rows["products"]:
        ts = _ts(row["updated_at"])
        if info["hour"] == START:  # the catalog, as of the day before
            assert ts == START - timedelta(days=1)
        else:  # a price change
            assert info["hour"] <= ts < info["hour"] + timedelta(hours=1)


def test_nothing_is_emitted_after_the_generated_hours(tmp_path):
    dest, summary = _run(tmp_path, hours=2)
    stamps = [_ts(r["event_timestamp"]) for _, r in _rows(dest)["browser_events"]]
    assert min(stamps) >= START and max(stamps) < START + timedelta(hours=2)
    assert len(stamps) == summary["events"] == sum(
        d["events"] for d in summary["truth"]["days"].values())


def test_late_files_lie_under_a_later_hour_and_hold_that_earlier_hours_lines(tmp_path):
    dest, summary = _run(tmp_path, hours=8, faults=["late"])
    files = _files(dest)
    late = [f for f in files.values() if f["origin"]]
    assert late
    browser_hour = {r["event_id"]: _ts(r["event_timestamp"]).replace(minute=0, second=0,
                                                                     microsecond=0)
                    for _, r in _rows(dest)["browser_events"]}
    for info in late:
        assert timedelta(hours=1) <= info["hour"] - info["origin"] <= timedelta(hours=3)
        assert START <= info["origin"] and info["hour"] < START + timedelta(hours=8)
        for line in _lines(info["path"]):
            row = json.loads(line)
            if info["stream"] == "browser_events":
                assert _ts(row["event_timestamp"]) - info["origin"] < timedelta(hours=1)
            elif info["stream"] == "location_events":
                assert browser_hour[row["event_id"]] == info["origin"]
    # moved, not copied: every event is still there exactly once
    assert len(_rows(dest)["browser_events"]) == summary["events"]


def test_truth_orders_per_day_equal_confirmation_pageviews_in_the_files(tmp_path):
    dest, summary = _run(tmp_path, hours=6, events_per_hour=1000)
    rows = _rows(dest)
    paths = {r["event_id"]: r["page_url_path"] for _, r in rows["location_events"]}
    orders = Counter(r["event_timestamp"][:10] for _, r in rows["browser_events"]
                     if r["event_type"] == "pageview" and paths[r["event_id"]] == "/confirmation")
    truth = summary["truth"]["days"]
    assert sorted(truth) == ["2024-03-01", "2024-03-02"]
    assert {d: v["orders"] for d, v in truth.items()} == dict(orders)
    assert all(v > 0 for v in orders.values())


def test_truth_sessions_equal_click_ids_whose_first_event_is_that_day(tmp_path):
    dest, summary = _run(tmp_path, hours=6)
    first = {}
    for _, r in _rows(dest)["browser_events"]:
        first[r["click_id"]] = min(r["event_timestamp"], first.get(r["click_id"], "9"))
    sessions = Counter(ts[:10] for ts in first.values())
    assert {d: v["sessions"] for d, v in summary["truth"]["days"].items()} == dict(sessions)


def test_every_kpi_recomputed_from_the_files_and_price_history_equals_the_truth(tmp_path):
    dest, summary = _run(tmp_path, hours=8, events_per_hour=1000)
    recomputed, changed_items = _recompute(dest)
    assert recomputed == summary["truth"]["days"]
    assert json.loads((dest / "truth.json").read_text()) == summary["truth"]
    assert changed_items > 0, "no order was priced by a price change: the test proves little"


def test_with_every_fault_a_correct_reading_still_recovers_the_clean_truth(tmp_path):
    clean_dest, clean = _run(tmp_path, "clean", hours=8, events_per_hour=1000)
    dest, faulty = _run(tmp_path, "faulty", hours=8, events_per_hour=1000, faults=FAULTS)
    assert faulty["truth"]["days"] == clean["truth"]["days"]
    assert _recompute(dest)[0] == faulty["truth"]["days"]
    assert faulty["lines"] > clean["lines"]


def test_rejected_lines_in_the_files_equal_the_summary_and_truth(tmp_path):
    dest, summary = _run(tmp_path, faults=FAULTS)
    bad = Counter()
    for info in _files(dest).values():
        lines = _lines(info["path"])
        rejected = sum(_valid(info["stream"], line) is None for line in lines)
        if info["stream"] in EVENT_STREAMS:
            assert rejected >= 2  # at least one malformed and one missing-field line per file
        bad[info["stream"]] += rejected
    assert summary["truth"]["rejected_lines"] == {s: bad[s] for s in STREAMS}
    assert summary["rejected_lines"] == sum(bad.values()) > 0
    assert summary["truth"]["faults"] == sorted(FAULTS)


def test_a_clean_run_has_no_rejected_duplicated_or_unknown_lines(tmp_path):
    dest, summary = _run(tmp_path)
    rows = _rows(dest)
    assert summary["rejected_lines"] == 0
    assert summary["lines"] == sum(len(v) for v in rows.values())
    ids = [r["event_id"] for _, r in rows["browser_events"]]
    assert len(ids) == len(set(ids))
    assert all("experiment_id" not in r and "consent" not in r for v in rows.values()
               for _, r in v)


def test_duplicates_and_extra_fields_are_injected_when_asked(tmp_path):
    dest, summary = _run(tmp_path, hours=2, events_per_hour=2000,
                         faults=["duplicates", "extra_field"])
    rows = _rows(dest)
    ids = [r["event_id"] for _, r in rows["browser_events"]]
    duplicated = len(ids) - len(set(ids))
    assert 0.005 * len(set(ids)) < duplicated < 0.02 * len(set(ids))
    lines = _lines(dest / "browser_events/date=2024-03-01/hour=23/part-0000.jsonl.gz")
    gaps = {i - lines.index(line) for i, line in enumerate(lines) if lines.index(line) < i}
    assert 1 in gaps and max(gaps) > 1  # right after the original, and further on
    extra = sum(any(k in r for k in ("experiment_id", "consent", "tracker_version"))
                for v in rows.values() for _, r in v)
    assert 0.01 * summary["lines"] < extra < 0.03 * summary["lines"]
    assert summary["rejected_lines"] == 0


def test_utm_and_referrer_appear_only_on_a_visits_landing_row(tmp_path):
    dest, _ = _run(tmp_path, hours=2)
    rows = _rows(dest)
    first = {}
    for _, r in rows["browser_events"]:
        key = (r["event_timestamp"], r["event_id"])
        first[r["click_id"]] = min(key, first.get(r["click_id"], key))
    landing_ids = {event_id for _, event_id in first.values()}
    sources = Counter()
    for _, r in rows["location_events"]:
        if r["event_id"] in landing_ids:
            sources[r["utm_source"] or r["referer_medium"] or "direct"] += 1
            if r["utm_source"]:
                assert f"utm_source={r['utm_source']}" in r["page_url"]
        else:
            assert not any(r.get(k) for k in ("utm_source", "utm_medium", "utm_campaign",
                                              "utm_content", "referer_url", "referer_medium"))
            assert r["page_url"] == "https://shop.example.com" + r["page_url_path"]
    assert set(sources) == {"direct", "search", "referral", "google", "newsletter", "facebook",
                            "instagram"}


def test_average_events_per_hour_over_a_day_is_close_to_events_per_hour(tmp_path):
    _, summary = _run(tmp_path, start=datetime(2024, 3, 1, tzinfo=UTC), hours=24,
                      events_per_hour=500)
    assert 0.9 * 24 * 500 < summary["events"] < 1.1 * 24 * 500


def test_one_hour_alone_has_about_events_per_hour_events_whatever_its_time(tmp_path):
    start = datetime(2024, 3, 1, 3, tzinfo=UTC)  # a quiet hour of the daily rhythm
    _, summary = _run(tmp_path, start=start, hours=1, events_per_hour=100_000)
    expected = 100_000
    assert 0.8 * expected < summary["events"] < 1.1 * expected
    assert summary["files"] == 5


def test_a_rerun_overwrites_and_leaves_no_stale_files(tmp_path):
    dest, _ = _run(tmp_path, "dest", seed=1, faults=["late"])
    _run(tmp_path, "dest", seed=2)
    fresh, _ = _run(tmp_path, "fresh", seed=2)
    files = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert files == {p.relative_to(fresh): p.read_bytes() for p in fresh.rglob("*") if p.is_file()}


def test_late_files_are_skipped_when_no_later_hour_is_generated(tmp_path):
    dest, summary = _run(tmp_path, hours=1, faults=["late"])
    assert summary["events"] > 0
    assert not [f for f in _files(dest).values() if f["origin"]]


def test_progress_is_reported_once_per_written_hour(tmp_path):
    calls = []
    _run(tmp_path, hours=3, progress=calls.append)
    assert calls == [1, 2, 3]


def test_unknown_faults_and_naive_or_unaligned_starts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="valid are duplicates, late, malformed"):
        generate(tmp_path, START, 1, faults=["late", "typo"])
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(tmp_path, datetime(2024, 3, 1), 1)
    with pytest.raises(ValueError, match="hour boundary"):
        generate(tmp_path, START + timedelta(minutes=5), 1)
