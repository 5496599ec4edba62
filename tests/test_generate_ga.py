"""generate(format="ga360" | "ga4"): the tracker's shop as a GA export, read back by GA's rules."""

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime

import duckdb
import pytest

from clicklake.generate import generate

START = datetime(2024, 3, 1, 20, tzinfo=UTC)  # the runs below cross midnight
DAY = r"date=(\d{4})-(\d\d)-(\d\d)/"
LAYOUT = {"ga360": re.compile(rf"ga_sessions/{DAY}ga_sessions_\1\2\3\.(jsonl\.gz|parquet)"),
          "ga4": re.compile(rf"ga4_events/{DAY}events_\1\2\3\.(jsonl\.gz|parquet)")}
STEPS = {"/": 1, "/category": 1, "/product": 2, "/cart": 3, "/checkout": 4, "/confirmation": 5}
FUNNEL = ("browse", "add_to_cart", "cart", "checkout", "purchase")
KPIS = ("events", "sessions", "visitors", "pageviews", "add_to_carts", "orders", "revenue")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """format -> (folder, summary) of one modest shop, the same seed for every format."""
    out = {}
    for fmt in ("tracker", "ga360", "ga4"):
        dest = tmp_path_factory.mktemp(fmt)
        out[fmt] = dest, generate(dest, START, 8, events_per_hour=3000, seed=11, format=fmt)
    return out


def _records(dest, fmt: str) -> list[tuple[str, dict]]:
    """(file's day, record) of every file of a GA run, JSON or Parquet."""
    found = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and p.name != "truth.json"):
        m = LAYOUT[fmt].fullmatch(path.relative_to(dest).as_posix())
        assert m, f"{path} is not in the export's layout"
        day = f"{m[1]}-{m[2]}-{m[3]}"
        if m[4] == "parquet":
            cur = duckdb.sql(f"from read_parquet('{path}', hive_partitioning = false)")
            names = [c[0] for c in cur.description]
            found += [(day, dict(zip(names, row, strict=True))) for row in cur.fetchall()]
        else:
            text = gzip.decompress(path.read_bytes()).decode()
            found += [(day, json.loads(line)) for line in text.splitlines()]
    return found


def _int(value) -> int | None:
    return None if value is None else int(value)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def _step(url: str) -> int:
    path = re.sub(r"^https://[^/]+", "", url).split("?")[0]
    return STEPS[path.split("_")[0]]


def _real(tid) -> bool:
    return tid not in (None, "", "(not set)")


class _Kpis:
    """The daily figures a correct GA unit computes, gathered while the records are read."""

    def __init__(self):
        self.days = defaultdict(lambda: dict.fromkeys(KPIS, 0))
        self.visitors, self.funnel = defaultdict(set), defaultdict(Counter)
        self.by_source, self.by_product = defaultdict(Counter), defaultdict(Counter)
        self.orders: dict = {}  # order key -> (ts, day, source, revenue in cents, lines)

    def order(self, key, ts: int, source: str, cents: int, lines: list[tuple[str, int, int]]):
        if key not in self.orders or ts < self.orders[key][0]:  # a repeated id counts once
            self.orders[key] = (ts, _day(ts), source, cents, lines)

    def result(self) -> dict:
        for _, day, source, cents, lines in self.orders.values():
            self.days[day]["orders"] += 1
            self.days[day]["revenue"] += cents
            self.by_source[day, source]["orders"] += 1
            self.by_source[day, source]["revenue"] += cents
            for sku, units, line_cents in lines:
                self.by_product[day, sku]["units"] += units
                self.by_product[day, sku]["revenue"] += line_cents
        for day, kpis in self.days.items():
            kpis["visitors"] = len(self.visitors[day])
            kpis["revenue"] = round(kpis["revenue"] / 100, 2)
            kpis["by_utm_source"] = {  # direct is untagged, '(none)', as the marts say
                "(none)" if s == "(direct)" else s: {
                    "sessions": c["sessions"], "orders": c["orders"],
                    "revenue": round(c["revenue"] / 100, 2)}
                for (d, s), c in sorted(self.by_source.items()) if d == day}
            kpis["by_product"] = {p: {"add_to_carts": c["add_to_carts"], "units": c["units"],
                                      "revenue": round(c["revenue"] / 100, 2)}
                                  for (d, p), c in sorted(self.by_product.items()) if d == day}
            kpis["funnel"] = dict(self.funnel[day])
        return dict(self.days)

    def visit(self, day: str, source: str, steps: set[int]) -> None:
        self.days[day]["sessions"] += 1
        self.by_source[day, source]["sessions"] += 1
        for n, step in enumerate(FUNNEL, 1):
            self.funnel[day][step] += n <= max(steps)


def _recompute_ga360(records: list[tuple[str, dict]]) -> dict:
    """GA360's rules: a row is a session when totals.visits is 1; pageviews from totals; a hit
    at visitStartTime + time; '6' is a purchase, one per real transactionId."""
    k = _Kpis()
    for file_day, row in records:
        start_s, totals = _int(row["visitStartTime"]), row["totals"]
        assert file_day == _day(start_s * 1000) and row["date"] == file_day.replace("-", "")
        source, visitor = row["trafficSource"]["source"], row["fullVisitorId"]
        session = _int(totals.get("visits")) == 1
        if session:
            k.days[file_day]["pageviews"] += _int(totals["pageviews"])
            k.visit(file_day, source, {_step(h["page"]["pagePath"]) for h in row["hits"]})
        for hit in row["hits"]:
            ts = start_s * 1000 + _int(hit["time"])
            day = _day(ts)
            k.days[day]["events"] += 1
            k.visitors[day].add(visitor)
            action = hit["eCommerceAction"]["action_type"]
            if action == "3":
                k.days[day]["add_to_carts"] += 1
                k.by_product[day, hit["product"][0]["productSKU"]]["add_to_carts"] += 1
            elif action == "6":
                tid = (hit.get("transaction") or {}).get("transactionId")
                key = tid if _real(tid) else (visitor, row["visitId"], hit["hitNumber"])
                lines = [(p["productSKU"], _int(p["productQuantity"]),
                          _int(p["productRevenue"]) // 10_000) for p in hit["product"]]
                k.order(key, ts, source, _int(hit["transaction"]["transactionRevenue"]) // 10_000,
                        lines)
    return k.result()


def _params(event: dict) -> dict:
    out = {}
    for p in event["event_params"]:
        v = p["value"]
        out[p["key"]] = next((v[f] for f in ("string_value", "int_value", "double_value")
                              if v.get(f) is not None), None)
    return out


def _recompute_ga4(records: list[tuple[str, dict]]) -> dict:
    """GA4's rules: a visit is user_pseudo_id + ga_session_id, on its first event's day; page_view,
    add_to_cart and purchase (one per real transaction_id, else each its own) count."""
    k = _Kpis()
    sessions = defaultdict(list)
    for n, (file_day, e) in enumerate(records):
        ts, params, user = _int(e["event_timestamp"]) // 1000, _params(e), e.get("user_pseudo_id")
        day = _day(ts)
        assert file_day == day and e["event_date"] == day.replace("-", "")
        k.days[day]["events"] += 1
        if user is None or params.get("ga_session_id") is None:
            continue
        k.visitors[day].add(user)
        sessions[user, int(params["ga_session_id"])].append((ts, e["event_name"], params))
        if e["event_name"] == "add_to_cart":
            k.days[day]["add_to_carts"] += 1
            k.by_product[day, e["items"][0]["item_id"]]["add_to_carts"] += 1
        elif e["event_name"] == "purchase":
            tid = e["ecommerce"]["transaction_id"]
            lines = [(i["item_id"], _int(i["quantity"]), round(i["item_revenue_in_usd"] * 100))
                     for i in e["items"]]
            cents = round(e["ecommerce"]["purchase_revenue_in_usd"] * 100)
            k.order(tid if _real(tid) else n, ts, (user, int(params["ga_session_id"])), cents,
                    lines)
    source = {}
    for key, events in sessions.items():
        events.sort(key=lambda e: e[0])
        day = _day(events[0][0])
        source[key] = next(p["source"] for _, name, p in events if name == "session_start")
        pages = [p["page_location"] for _, name, p in events if name == "page_view"]
        k.days[day]["pageviews"] += len(pages)
        k.visit(day, source[key], {_step(url) for url in pages})
    k.orders = {o: (ts, d, source[s], c, lines) for o, (ts, d, s, c, lines) in k.orders.items()}
    return k.result()


RECOMPUTE = {"ga360": _recompute_ga360, "ga4": _recompute_ga4}


@pytest.mark.parametrize("fmt", ["ga360", "ga4"])
def test_the_same_seed_writes_identical_bytes(tmp_path, fmt):
    a, b = (generate(tmp_path / n, START, 3, events_per_hour=500, seed=5, format=fmt)
            for n in "ab")
    files = [{p.relative_to(tmp_path / n): p.read_bytes() for p in (tmp_path / n).rglob("*")
              if p.is_file()} for n in "ab"]
    assert a["truth"] == b["truth"] and files[0] == files[1] and len(files[0]) == 2


@pytest.mark.parametrize("fmt", ["ga360", "ga4"])
def test_files_are_daily_with_no_hour_folder_and_records_on_their_day(runs, fmt):
    dest, summary = runs[fmt]
    records = _records(dest, fmt)  # asserts the layout
    assert not list(dest.rglob("hour=*"))
    assert sorted({d for d, _ in records}) == ["2024-03-01", "2024-03-02"]
    assert summary["files"] == 2 and summary["lines"] == len(records)
    assert summary["truth"]["format"] == fmt


@pytest.mark.parametrize("fmt", ["ga360", "ga4"])
def test_every_kpi_recomputed_from_the_files_by_gas_rules_equals_the_truth(runs, fmt):
    dest, summary = runs[fmt]
    assert RECOMPUTE[fmt](_records(dest, fmt)) == summary["truth"]["days"]


@pytest.mark.parametrize("fmt", ["ga360", "ga4"])
def test_parquet_files_hold_the_same_shop_with_nested_records(tmp_path, fmt):
    args = {"start": START, "hours": 6, "events_per_hour": 1000, "seed": 3, "format": fmt}
    summary = generate(tmp_path, file_format="parquet", **args)
    assert not list(tmp_path.rglob("*.jsonl*"))
    assert RECOMPUTE[fmt](_records(tmp_path, fmt)) == summary["truth"]["days"]
    assert summary["truth"] == generate(tmp_path / "json", **args)["truth"]


def test_ga_and_tracker_describe_the_same_shop_but_for_gas_events_sources_and_skus(runs):
    tracker = runs["tracker"][1]["truth"]["days"]
    same = ("sessions", "visitors", "pageviews", "add_to_carts", "orders", "revenue", "funnel")
    for fmt in ("ga360", "ga4"):
        days = runs[fmt][1]["truth"]["days"]
        assert sorted(days) == sorted(tracker)
        for day, want in tracker.items():
            got = days[day]
            assert {k: got[k] for k in same} == {k: want[k] for k in same}
            assert got["events"] > want["events"]  # GA writes a few more rows than the tracker
            for part, key in (("by_utm_source", "sessions"), ("by_product", "units")):
                assert (sum(v[key] for v in got[part].values())
                        == sum(v[key] for v in want[part].values()))
            assert {k: v["units"] for k, v in got["by_product"].items()} == {
                f"SKU-{int(k):04d}": v["units"] for k, v in want["by_product"].items()}
    assert {"(none)", "google", "bing", "newsletter"} <= set(
        runs["ga4"][1]["truth"]["days"]["2024-03-01"]["by_utm_source"])


def test_ga360_rows_carry_every_quirk_of_the_real_export(runs):
    rows = [r for _, r in _records(runs["ga360"][0], "ga360")]
    hits = [h for r in rows for h in r["hits"]]
    assert {type(r["visitId"]) for r in rows} == {str, int}
    assert {type(r["totals"]["hits"]) for r in rows} == {str, int}
    assert any("bounces" not in r["totals"] for r in rows)  # null fields left out
    assert any("bounces" in r["totals"] and r["totals"]["bounces"] is None for r in rows)
    assert {r["totals"].get("bounces") for r in rows} <= {None, 1, "1"}  # never 0
    assert any(h.get("transaction", 0) is None for h in hits)  # a whole object null
    crossing = [r for r in rows if _day(_int(r["visitStartTime"]) * 1000 + max(
        _int(h["time"]) for h in r["hits"])) != _day(_int(r["visitStartTime"]) * 1000)]
    assert crossing and all(r["date"] == "20240301" for r in crossing)
    purchases = [h for h in hits if h["eCommerceAction"]["action_type"] == "6"]
    ids = Counter(h["transaction"].get("transactionId") for h in purchases)
    assert {"(not set)", None} <= set(ids)
    repeated = [h for h in purchases if h["type"] == "TRANSACTION"]
    assert repeated and all(ids[h["transaction"]["transactionId"]] == 2 for h in repeated)
    assert any("transactionId" not in h["transaction"] for h in purchases)
    quiet = [r for r in rows if r["totals"].get("visits") is None]
    assert quiet and all(h["type"] == "EVENT" and h.get("isInteraction") is None
                         for r in quiet for h in r["hits"])
    impressions = [p for h in hits for p in h["product"] if p.get("isImpression")]
    assert impressions and all(p.get("productQuantity") is None for p in impressions)


def test_ga4_events_carry_every_quirk_of_the_real_export(runs):
    events = [e for _, e in _records(runs["ga4"][0], "ga4")]
    names = Counter(e["event_name"] for e in events)
    assert {"first_visit", "session_start", "page_view", "add_to_cart", "begin_checkout",
            "purchase", "user_engagement", "scroll", "click"} <= set(names)
    pings = [e for e in events if e.get("user_pseudo_id") is None]
    assert pings and all("ga_session_id" not in _params(e) for e in pings)
    assert {type(e["event_timestamp"]) for e in events} == {str, int}
    engaged = {type(p["value"].get("int_value") or p["value"].get("string_value"))
               for e in events for p in e["event_params"] if p["key"] == "session_engaged"}
    assert engaged == {str, int}
    ids = Counter(e["ecommerce"]["transaction_id"] for e in events if e["event_name"] == "purchase")
    assert {"(not set)", "", None} <= set(ids)
    assert max(n for tid, n in ids.items() if _real(tid)) == 2  # a purchase sent twice
    assert any("collected_traffic_source" not in e for e in events)
    assert any(e.get("collected_traffic_source") for e in events)
    assert any("session_traffic_source_last_click" in e for e in events)
    assert any("session_traffic_source_last_click" not in e for e in events)
    midnight = int(datetime(2024, 3, 2, tzinfo=UTC).timestamp())
    assert any(e["event_date"] == "20240302"
               and int(_params(e).get("ga_session_id", 2e9)) < midnight
               for e in events)  # a session that started before midnight


def test_faults_and_unknown_formats_are_refused_for_ga(tmp_path):
    with pytest.raises(ValueError, match="tracker files only"):
        generate(tmp_path, START, 1, format="ga4", faults=["late"])
    with pytest.raises(ValueError, match="valid are tracker, ga360, ga4"):
        generate(tmp_path, START, 1, format="ga5")
    with pytest.raises(ValueError, match="parquet"):
        generate(tmp_path, START, 1, file_format="parquet")
