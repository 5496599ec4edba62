"""The GA4 source unit (sql/sources/ga4): a GA4 BigQuery export day, as `.jsonl.gz` in a daily
`date=` folder, through `clicklake run` in a throwaway lake whose reporting time zone is not UTC
(Asia/Kolkata, +05:30: UTC 18:30 is local midnight), each rule of issue 13 section 3 asserted on
values."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from support import clicklake

from clicklake import dashboard as db
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect

TZ = "Asia/Kolkata"
DAY = "2021-01-31"
JAN31, FEB1 = date(2021, 1, 31), date(2021, 2, 1)
STREAM = "1234567"
OTHER_STREAM = "7654321"


def _us(hhmmss: str, day: str = DAY) -> int:
    """Microseconds since the epoch of a UTC time of the day."""
    return int(datetime.fromisoformat(f"{day}T{hhmmss}").replace(tzinfo=UTC).timestamp()
               * 1_000_000)


class IntText(str):
    """An integer that the export writes as a JSON string in int_value (BigQuery's JSON export
    writes INT64 so); a plain int is written as a JSON number."""


def _param(key: str, value) -> dict:
    """An event_params entry as the export writes it: strings in string_value, integers in
    int_value (as a number, or as a string for an IntText), floats in double_value."""
    if isinstance(value, IntText):
        return {"key": key, "value": {"string_value": None, "int_value": str(value),
                                      "float_value": None, "double_value": None}}
    if isinstance(value, str):
        return {"key": key, "value": {"string_value": value, "int_value": None,
                                      "float_value": None, "double_value": None}}
    if isinstance(value, float):
        return {"key": key, "value": {"string_value": None, "int_value": None,
                                      "float_value": None, "double_value": value}}
    return {"key": key, "value": {"string_value": None, "int_value": value,
                                  "float_value": None, "double_value": None}}


DEVICES = {
    "desktop": {"category": "desktop", "operating_system": "Windows",
                "operating_system_version": "Windows 10", "language": "en-us",
                "is_limited_ad_tracking": "No",
                "web_info": {"browser": "Chrome", "browser_version": "88.0"}},
    "mobile": {"category": "mobile", "operating_system": "iOS",
               "operating_system_version": "iOS 14.4", "language": "de-de",
               "web_info": {"browser": "Safari", "browser_version": "14.0"}},
    "tablet": {"category": "tablet", "operating_system": "Android",
               "operating_system_version": "Android 10", "language": "(not set)",
               "browser": "Chrome", "web_info": None},
}
GEOS = {
    "us": {"continent": "Americas", "country": "United States", "region": "California",
           "city": "San Jose"},
    "de": {"continent": "Europe", "country": "Germany", "region": "Bavaria", "city": "Munich"},
    "unknown": {"continent": "(not set)", "country": "Atlantis", "region": "(not set)",
                "city": "(not set)"},
}
FIRST_TOUCH = {"name": "influencer", "medium": "social", "source": "facebook"}


def event(name: str, at: str, user: str | None, session: int | str | None, *, params=(),
          device="desktop", geo="us", stream=STREAM, ts_as_string=False, index=0,
          day: str = DAY, **fields) -> dict:
    """One export line: the event `name` at UTC time `at` of user `user` in the visit
    `session` (the ga_session_id parameter; None = none), with its other parameters."""
    ts = _us(at, day)
    all_params = [_param("ga_session_id", session)] if session is not None else []
    all_params += [_param(k, v) for k, v in params]
    line = {
        "event_date": day.replace("-", ""),
        "event_timestamp": str(ts) if ts_as_string else ts,
        "event_name": name,
        "event_params": all_params,
        "event_previous_timestamp": None,
        "event_value_in_usd": None,
        "event_bundle_sequence_id": str(ts // 1000),
        "event_server_timestamp_offset": "512",
        "user_id": None,
        "user_pseudo_id": user,
        "privacy_info": {"analytics_storage": "Yes" if user else "No", "ads_storage": "No",
                         "uses_transient_token": "No" if user else "Yes"},
        "user_properties": [],
        "user_first_touch_timestamp": str(ts - 86_400_000_000) if user else None,
        "user_ltv": None,
        "device": DEVICES[device],
        "geo": GEOS[geo],
        "app_info": None,
        "traffic_source": FIRST_TOUCH if user else None,
        "stream_id": stream,
        "platform": "WEB",
        "event_dimensions": None,
        "ecommerce": None,
        "items": [],
        "is_active_user": user is not None,
        "batch_event_index": index,
        "batch_page_id": ts // 1_000_000,
        "batch_ordering_id": 1,
        "publisher": None,
    }
    line.update(fields)
    return line


def page(path: str) -> tuple[str, str]:
    return ("page_location", f"https://shop.example{path}")


def item(item_id: str, price: float | None, quantity: int | None, name="Trail Tent") -> dict:
    return {"item_id": item_id, "item_name": name, "item_brand": "(not set)",
            "item_category": "outdoor", "price_in_usd": price, "price": price,
            "quantity": quantity, "item_revenue_in_usd": None, "item_list_name": "(not set)",
            "promotion_name": "(not set)"}


def purchase(at: str, user: str, session, transaction_id, revenue: float, items: list,
             **kw) -> dict:
    ecommerce = {"total_item_quantity": sum(i["quantity"] or 1 for i in items),
                 "purchase_revenue_in_usd": revenue, "purchase_revenue": revenue,
                 "refund_value_in_usd": None, "shipping_value_in_usd": None,
                 "tax_value_in_usd": 0.0, "unique_items": len(items),
                 "transaction_id": transaction_id}
    return event("purchase", at, user, session, params=[page("/confirmation")], items=items,
                 ecommerce=ecommerce, **kw)


# Visit A (google / cpc, although the user's first touch was facebook / social): engaged by a
# string_value '1' and an int_value "1", a cart of two units, paid twice under one transaction
# id (a reload of the confirmation page): one order.
A = ("1001.1611900000", 1612087200)
# Visit A2: the same user and ga_session_id in another stream: another visit.
# Visit B: google / organic, one page view, session_engaged '0': a bounce, in Germany, mobile.
B = ("2002.1612000000", IntText("1612094400"))  # ga_session_id as a string int_value
# Visit C: newsletter / email / weekly_digest from collected_traffic_source only; three
# purchases whose transaction id is '(not set)', missing and empty: three orders.
C = ("3003.1612010000", 1612101600)
# Visit D: (direct) / (none), from 23:50 to 00:10 in Kolkata: one visit of Jan 31, with an
# event on Feb 1.
D = ("4004.1612020000", 1612117200)
# Visit E: a referral starting at 00:05 in Kolkata: a visit of Feb 1.
E = ("5005.1612030000", 1612118100)

LINES = [
    event("session_start", "10:00:00", *A, index=0, ts_as_string=True,
          params=[page("/?gclid=abc"), ("source", "google"), ("medium", "cpc"),
                  ("campaign", "spring_sale"), ("page_referrer", "https://www.google.com/")]),
    event("page_view", "10:00:00", *A, index=1,
          params=[page("/?gclid=abc"), ("source", "google"), ("medium", "cpc"),
                  ("campaign", "spring_sale"), ("page_referrer", "https://www.google.com/")]),
    event("page_view", "10:01:00", *A, params=[page("/product_12?color=red"),
                                               ("session_engaged", "1"),
                                               ("page_referrer", "https://shop.example/")]),
    event("add_to_cart", "10:02:00", *A, params=[page("/product_12?color=red"),
                                                 ("session_engaged", IntText("1"))],
          items=[item("12", 25.5, 2)]),
    purchase("10:05:00", *A, "T-1001", 51.0, [item("12", 25.5, 2)],
             ts_as_string=True),
    purchase("10:06:30", *A, "T-1001", 51.0, [item("12", 25.5, 2)]),
    event("page_view", "10:30:00", *A, stream=OTHER_STREAM, params=[page("/")]),
    event("session_start", "12:00:00", *B, device="mobile", geo="de",
          params=[page("/category_shoes"), ("source", "google"), ("medium", "organic"),
                  ("campaign", "(organic)"), ("session_engaged", "0")]),
    event("page_view", "12:00:00", *B, device="mobile", geo="de", index=1,
          params=[page("/category_shoes"), ("source", "google"), ("medium", "organic"),
                  ("campaign", "(organic)"), ("session_engaged", "0"),
                  ("page_referrer", "https://www.google.de/")]),
    event("page_view", "14:00:00", *C, device="tablet", geo="unknown",
          params=[page("/cart"), ("session_engaged", 1)],
          collected_traffic_source={"manual_source": "newsletter", "manual_medium": "email",
                                    "manual_campaign_name": "weekly_digest",
                                    "manual_content": "hero", "gclid": None}),
    purchase("14:05:00", *C, "(not set)", 30.0, [item("7", 30.0, 1)], device="tablet",
             geo="unknown"),
    purchase("14:07:00", *C, None, 20.0, [item("8", 10.0, None), item("9", 10.0, None)],
             device="tablet", geo="unknown"),
    purchase("14:09:00", *C, "", 5.0, [item("10", None, 1)], device="tablet",
             geo="unknown"),
    event("page_view", "18:20:00", *D, params=[page("/"), ("source", "(direct)"),
                                               ("medium", "(none)")]),
    event("page_view", "18:40:00", *D, params=[page("/category_bags"),
                                               ("session_engaged", "1")]),
    event("page_view", "18:35:00", *E, params=[page("/"), ("source", "blog.example"),
                                               ("medium", "referral"),
                                               ("campaign", "(referral)")]),
    # consent-mode pings: no user_pseudo_id, no ga_session_id
    event("page_view", "11:00:00", None, None, params=[page("/product_3")]),
    event("scroll", "11:00:05", None, None, params=[page("/product_3"),
                                                   ("percent_scrolled", 90)]),
    # a user's event with no ga_session_id: an event of the visitor in no visit
    event("first_visit", "11:30:00", "6006.1612040000", None, params=[page("/")]),
]
# the add_to_cart line is exported twice (a retried load): one event
DUPLICATE = 3


# a line without event_timestamp cannot be placed in time: rejected, with its reason
UNTIMED = {k: v for k, v in event("page_view", "13:00:00", *B).items() if k != "event_timestamp"}


def _export(source: Path) -> None:
    folder = source / "ga4_events" / f"date={DAY}"
    folder.mkdir(parents=True)
    lines = [*LINES[:DUPLICATE + 1], LINES[DUPLICATE], *LINES[DUPLICATE + 1:], UNTIMED]
    with gzip.open(folder / "events_20210131.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("ga4")
    _export(home / "source")
    return home


def _env(home: Path) -> dict[str, str]:
    return {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent",
            "CLICKLAKE_TIMEZONE": TZ}


@pytest.fixture(scope="module")
def ran(lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """The export's day run as a user runs it (`clicklake run` of its first hour: a daily
    folder is read whole), then the lake opened to read."""
    result = clicklake(lake, "run", "--start", f"{DAY}T00", "--end", f"{DAY}T01",
                       env={"CLICKLAKE_TIMEZONE": TZ})
    assert result.returncode == 0, result.stdout + result.stderr
    con = connect(read_only=True, settings=load_settings(_env(lake)))
    yield con
    con.close()


def query(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def sessions(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """stage.sessions of the GA4 format by user_pseudo_id (+ ':other' for the other stream)."""
    rows = query(con, "select * from stage.sessions where source_format = 'ga4'")
    return {r["visitor_id"] + (":other" if r["session_id"].startswith(OTHER_STREAM) else ""): r
            for r in rows}


def test_a_visit_is_the_stream_the_user_pseudo_id_and_the_ga_session_id(ran):
    by_user = sessions(ran)
    assert sorted(by_user) == sorted([A[0], A[0] + ":other", B[0], C[0], D[0], E[0]])
    assert by_user[A[0]]["session_id"] == f"{STREAM}:{A[0]}:{A[1]}"
    assert by_user[A[0] + ":other"]["session_id"] == f"{OTHER_STREAM}:{A[0]}:{A[1]}"
    assert by_user[A[0]]["visitor_id"] == by_user[A[0] + ":other"]["visitor_id"] == A[0]
    # ga_session_id as a string int_value and as a number give the same kind of key
    assert by_user[B[0]]["session_id"] == f"{STREAM}:{B[0]}:{B[1]}"
    assert by_user[A[0]]["events"] == 6  # the duplicated add_to_cart line counts once
    assert by_user[A[0]]["pageviews"] == 2 and by_user[A[0]]["add_to_carts"] == 1


def test_consent_pings_are_events_in_no_visit_and_no_visitor(ran):
    rows = query(ran, "select event_type, visitor_id, page_path from stage.events "
                      "where source_format = 'ga4' and session_id is null order by event_ts")
    assert rows == [
        {"event_type": "page_view", "visitor_id": None, "page_path": "/product_3"},
        {"event_type": "scroll", "visitor_id": None, "page_path": "/product_3"},
        {"event_type": "first_visit", "visitor_id": "6006.1612040000", "page_path": "/"},
    ]
    visitors = query(ran, "select visitor_id from stage.visitors")
    assert "6006.1612040000" not in {r["visitor_id"] for r in visitors}
    kpis = {str(r["date"]): r for r in query(ran, "select * from mart.daily_kpis")}
    # 17 events on Jan 31 in Kolkata (the three pings among them) and 8 page views: the
    # sessions' 7 and the ping's one
    assert (kpis[DAY]["events"], kpis[DAY]["sessions"], kpis[DAY]["pageviews"]) == (17, 5, 8)


def test_a_line_loaded_twice_is_one_event_and_raw_reconciles_with_stage(ran):
    carts = query(ran, "select product_id, source_file from stage.events "
                       "where source_format = 'ga4' and ecommerce_action = 'add_to_cart'")
    assert [r["product_id"] for r in carts] == ["12"]
    checks = {r["check_name"]: r["status"] for r in query(
        ran, "select check_name, status from ops.check_results")}
    assert checks["raw_reconciles"] == checks["events_unique"] == "pass"
    assert checks["events_have_session"] == checks["sessions_unique"] == "pass"
    # the one warning is the fixture's item without a price
    assert {k for k, v in checks.items() if v != "pass"} == {"orders_priced"}


def test_a_line_without_event_timestamp_is_rejected_with_its_reason(ran):
    rejected = query(ran, "select stream, line_no, reason from ops.rejected_rows")
    assert rejected == [{"stream": "ga4_events", "line_no": len(LINES) + 2,
                         "reason": "missing event_timestamp"}]


def test_a_transaction_id_repeated_by_two_purchases_is_one_order(ran):
    orders = query(ran, "select * from stage.orders where source_format = 'ga4' "
                        "and order_id = 'T-1001'")
    assert len(orders) == 1
    order = orders[0]
    assert (order["revenue"], order["items"], order["unpriced_items"]) == (Decimal("51.00"), 2, 0)
    assert order["order_ts"] == datetime(2021, 1, 31, 10, 5, tzinfo=UTC)  # the first purchase
    items = query(ran, "select product_id, price, currency from stage.order_items "
                       "where order_id = 'T-1001'")
    # one row per unit: the line of quantity 2 is two rows at the unit price
    assert items == [{"product_id": "12", "price": Decimal("25.50"), "currency": "USD"}] * 2


def test_purchases_without_a_usable_transaction_id_are_each_their_own_order(ran):
    orders = query(ran, "select o.order_id, o.revenue, o.items, o.unpriced_items, e.event_id "
                        "from stage.orders as o left join stage.events as e "
                        "on e.event_id = o.order_id and e.source_format = 'ga4' "
                        f"where o.source_format = 'ga4' and o.visitor_id = '{C[0]}' "
                        "order by o.order_ts")
    # '(not set)', missing and empty ids: three orders, each the purchase event itself
    assert [(r["revenue"], r["items"], r["unpriced_items"]) for r in orders] == [
        (30.0, 1, 0), (20.0, 2, 0), (5.0, 1, 1)]
    assert all(r["order_id"] == r["event_id"] for r in orders)
    visit = sessions(ran)[C[0]]
    assert (visit["orders"], visit["revenue"], visit["converted"]) == (3, 55.0, True)
    kpis = {str(r["date"]): r for r in query(ran, "select * from mart.daily_kpis")}
    assert (kpis[DAY]["orders"], kpis[DAY]["revenue"]) == (4, 106.0)


def test_a_visits_source_is_its_events_not_the_users_first_touch(ran):
    by_user = sessions(ran)

    def source(user: str) -> tuple:
        s = by_user[user]
        return s["utm_source"], s["utm_medium"], s["utm_campaign"], s["referer_medium"]

    # traffic_source says facebook / social / influencer for every user: it is never used
    assert source(A[0]) == ("google", "cpc", "spring_sale", None)
    # C's events have no source parameters: its source is collected_traffic_source's
    assert source(C[0]) == ("newsletter", "email", "weekly_digest", None)
    # organic and referral keep GA's source and medium (as the GA360 unit does); GA4's
    # channel-named campaigns '(organic)' and '(referral)' are no campaign
    assert source(B[0]) == ("google", "organic", None, "search")
    assert source(E[0]) == ("blog.example", "referral", None, "referral")
    assert source(D[0]) == (None, None, None, None)  # (direct) / (none) is direct
    # every event of a visit carries its visit's source, the landing page's referrer included
    rows = query(ran, "select distinct utm_source, utm_content, referer_url from stage.events "
                      f"where visitor_id = '{A[0]}' and session_id like '{STREAM}:%'")
    assert rows == [{"utm_source": "google", "utm_content": None,
                     "referer_url": "https://www.google.com/"}]


def test_engaged_visits_follow_session_engaged_as_int_or_string_and_the_rest_bounce(ran):
    by_user = sessions(ran)
    engaged = {user: (s["is_engaged"], s["is_bounce"]) for user, s in by_user.items()}
    assert engaged == {
        A[0]: (True, False),  # string_value '1', int_value "1"
        A[0] + ":other": (False, True),  # no flag at all
        B[0]: (False, True),  # '0'
        C[0]: (True, False),  # 1 as a JSON number
        D[0]: (True, False),  # '1' on its event after midnight
        E[0]: (False, True),
    }


def test_a_visit_counts_on_the_day_of_its_first_event_in_the_reporting_time_zone(ran):
    by_user = sessions(ran)
    # D runs from 23:50 to 00:10 in Kolkata: a visit of Jan 31 with an event of Feb 1
    assert by_user[D[0]]["session_date"] == JAN31 and by_user[D[0]]["events"] == 2
    assert by_user[E[0]]["session_date"] == FEB1  # 18:35 UTC is 00:05 in Kolkata
    days = query(ran, "select event_date, count(*) as n from stage.events "
                      f"where visitor_id = '{D[0]}' group by all order by 1")
    assert days == [{"event_date": JAN31, "n": 1}, {"event_date": FEB1, "n": 1}]
    hours = query(ran, "select event_hour from stage.events where visitor_id = "
                       f"'{E[0]}'")
    assert hours == [{"event_hour": datetime(2021, 2, 1, 0, 0)}]  # local, no zone
    kpis = {str(r["date"]): r["sessions"] for r in query(ran, "select * from mart.daily_kpis")}
    assert kpis == {DAY: 5, "2021-02-01": 1}


def test_events_carry_pages_devices_and_countries_in_the_trackers_terms(ran):
    rows = query(ran, "select event_type, page_url, page_path, page_type, funnel_step, "
                      "ecommerce_action, product_id from stage.events "
                      f"where visitor_id = '{A[0]}' and session_id like '{STREAM}:%' "
                      "and event_type in ('page_view', 'add_to_cart') order by event_ts")
    assert rows[1:] == [
        {"event_type": "page_view", "page_url": "https://shop.example/product_12?color=red",
         "page_path": "/product_12", "page_type": "product", "funnel_step": "add_to_cart",
         "ecommerce_action": None, "product_id": None},
        {"event_type": "add_to_cart", "page_url": "https://shop.example/product_12?color=red",
         "page_path": "/product_12", "page_type": "product", "funnel_step": None,
         "ecommerce_action": "add_to_cart", "product_id": "12"},
    ]
    assert rows[0]["page_path"] == "/" and rows[0]["page_type"] == "home"
    devices = query(ran, "select distinct visitor_id, device_type, device_is_mobile, os_name, "
                         "browser_name, browser_language, geo_country, geo_region "
                         f"from stage.events where visitor_id in ('{B[0]}', '{C[0]}') "
                         "order by 1")
    assert devices == [
        {"visitor_id": B[0], "device_type": "mobile", "device_is_mobile": True,
         "os_name": "iOS", "browser_name": "Safari", "browser_language": "de-de",
         "geo_country": "DE", "geo_region": "Bavaria"},
        # device.browser when web_info is null; an unknown country keeps its name
        {"visitor_id": C[0], "device_type": "tablet", "device_is_mobile": False,
         "os_name": "Android", "browser_name": "Chrome", "browser_language": None,
         "geo_country": "Atlantis", "geo_region": None},
    ]


# the next export day's file: an event of visit D that arrived late (00:15 in Kolkata) and a
# copy of D's 00:10 event, already loaded from the first day's file
LATE = [
    event("page_view", "18:45:00", *D, params=[page("/product_5"), ("session_engaged", "1")]),
    next(line for line in LINES
         if line["user_pseudo_id"] == D[0] and line["event_timestamp"] == _us("18:40:00")),
]


@pytest.fixture(scope="module")
def late(tmp_path_factory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A lake that ran the export's day, then the next day's file with a late event."""
    home = tmp_path_factory.mktemp("ga4_late")
    _export(home / "source")
    for hour, lines in ((f"{DAY}T00", None), ("2021-02-01T00", LATE)):
        if lines:
            folder = home / "source" / "ga4_events" / "date=2021-02-01"
            folder.mkdir(parents=True)
            with gzip.open(folder / "events_20210201.jsonl.gz", "wt") as f:
                f.writelines(json.dumps(line) + "\n" for line in lines)
        end = hour[:-2] + "01"
        result = clicklake(home, "run", "--start", hour, "--end", end,
                           env={"CLICKLAKE_TIMEZONE": TZ})
        assert result.returncode == 0, result.stdout + result.stderr
    con = connect(read_only=True, settings=load_settings(_env(home)))
    yield con
    con.close()


def test_a_late_event_recounts_its_whole_visit_on_the_day_the_visit_began(late):
    visit = sessions(late)[D[0]]
    assert (visit["session_date"], visit["events"], visit["pageviews"]) == (JAN31, 3, 3)
    assert visit["session_end"] == datetime(2021, 1, 31, 18, 45, tzinfo=UTC)
    assert visit["exit_page"] == "/product_5"
    # the copy in the second file is the same event: the first-loaded one stays
    files = query(late, "select source_file from stage.events "
                        f"where visitor_id = '{D[0]}' order by event_ts")
    assert [Path(r["source_file"]).name for r in files] == [
        "events_20210131.jsonl.gz", "events_20210131.jsonl.gz", "events_20210201.jsonl.gz"]
    kpis = {str(r["date"]): (r["events"], r["sessions"]) for r in query(
        late, "select * from mart.daily_kpis")}
    assert kpis == {DAY: (17, 5), "2021-02-01": (3, 1)}
    failed = query(late, "select distinct check_name from ops.check_results "
                         "where status <> 'pass'")
    assert failed == [{"check_name": "orders_priced"}]  # the fixture's item without a price


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_a_generated_ga4_day_gives_the_generators_truth(tmp_path, file_format):
    """`generate --format ga4` writes the export's quirks (ids as strings and numbers,
    repeated and unset transaction ids, consent pings, sparse fields); read as JSONL or as
    Parquet, the day's KPIs are the simulation's."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    truth = generate(tmp_path / "source", start, 24, events_per_hour=100, seed=11,
                     format="ga4", file_format=file_format)["truth"]
    result = clicklake(tmp_path, "run", "--start", "2024-03-01T00", "--end", "2024-03-01T01")
    assert result.returncode == 0, result.stdout + result.stderr
    con = connect(read_only=True, settings=load_settings({
        "CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/nonexistent"}))
    try:
        kpis = {str(r["date"]): r for r in query(con, "select * from mart.daily_kpis")}
        failed = query(con, "select check_name from ops.check_results where status <> 'pass'")
    finally:
        con.close()
    fields = ("events", "sessions", "visitors", "pageviews", "add_to_carts", "orders")
    for day, want in truth["days"].items():
        got = kpis[day]
        assert {f: got[f] for f in fields} == {f: want[f] for f in fields}
        assert got["revenue"] == Decimal(str(want["revenue"]))
    assert failed == []


def test_what_changed_explains_the_late_file_and_its_duplicate(late):
    """The next day's export holds a late event and a copy of one already loaded: on the day
    they fall on, "what changed" counts both as the file's raw events, the late one as kept
    and the copy as a duplicate removed, and the day's move equals what stage kept."""
    history = db.day_history(late, FEB1, TZ)
    last = history.versions.iloc[-1]
    files = history.files[history.files["version"] == last["snapshot_id"]]
    assert [Path(f).name for f in files["file"]] == ["events_20210201.jsonl.gz"]
    row = files.iloc[0]
    assert (row["raw_events"], row["events_kept"], row["duplicates"]) == (2, 1, 1)
    assert last["events_change"] == row["events_kept"] == 1
    assert "1 duplicate removed" in last["why"]
