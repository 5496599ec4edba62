"""The GA360 source unit (sql/sources/ga360): a GA360 BigQuery export day, written by hand as
the export writes it (ids as strings and as numbers, INT64 figures as JSON strings, nested
nulls, money in millionths, '(not set)'), goes through `clicklake run` into a throwaway lake,
and every mapping rule of the unit is checked on the values it gives."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from support import clicklake

from clicklake import dashboard as db
from clicklake.config import load_settings
from clicklake.lake import connect

HOST = "shop.example"


def page(n, t, path, **fields) -> dict:
    """A PAGE hit `t` milliseconds into its visit, as GA360 exports it (numbers as strings)."""
    return {"hitNumber": str(n), "time": str(t), "type": "PAGE", "isInteraction": True,
            "page": {"pagePath": path, "hostname": HOST, "pageTitle": "Shop"},
            "eCommerceAction": {"action_type": "0", "step": "1"}, "product": [],
            "transaction": None} | fields


def event(n, t, **fields) -> dict:
    """An EVENT hit (numbers as numbers, as some exporters write them)."""
    return {"hitNumber": n, "time": t, "type": "EVENT", "isInteraction": True,
            "page": {"pagePath": "/home", "hostname": HOST},
            "eCommerceAction": {"action_type": "0"},
            "eventInfo": {"eventCategory": "ui", "eventAction": "click"}} | fields


def product(sku, price=None, quantity=None, impression=None) -> dict:
    line = {"productSKU": sku, "v2ProductName": f"Name {sku}", "v2ProductCategory": "Bags",
            "productPrice": price, "productQuantity": quantity}
    return line if impression is None else line | {"isImpression": impression}


# A: 2017-08-01 04:00 UTC, organic, a purchase reported by two hits (one transactionId), an
# add-to-cart hit that also lists an impression. Google's totals say 5 pageviews (4 PAGE hits
# are in the export) and 61.99 revenue (with tax and shipping).
VISIT_A = {
    "visitorId": None, "visitNumber": "1", "visitId": 1501560000, "visitStartTime": "1501560000",
    "date": "20170801", "fullVisitorId": "0123456789012345678",
    "totals": {"visits": "1", "hits": "6", "pageviews": "5", "timeOnSite": "95",
               "transactions": "1", "transactionRevenue": "54990000",
               "totalTransactionRevenue": "61990000", "newVisits": "1"},
    "trafficSource": {"referralPath": None, "campaign": "(not set)", "source": "google",
                      "medium": "organic", "keyword": "(not provided)",
                      "adwordsClickInfo": {"criteriaParameters": "not available in demo dataset"}},
    "device": {"browser": "Chrome", "operatingSystem": "Macintosh", "isMobile": False,
               "deviceCategory": "desktop", "language": "en-us"},
    "geoNetwork": {"continent": "Americas", "country": "United States", "region": "California",
                   "city": "not available in demo dataset"},
    "customDimensions": [{"index": 4, "value": "NA"}],
    "hits": [
        page(1, 0, "/home", isEntrance=True),
        page(2, 15000, "/product_12?color=red", eCommerceAction={"action_type": "3", "step": "1"},
             product=[product("SKU-99", 5000000, None, True), product("SKU-12", 24990000, 1)]),
        event(3, 30000),
        page(4, 60000, "/checkout", eCommerceAction={"action_type": "5", "step": "2"}),
        page(5, 95000, "/ordercompleted", isExit=True,
             eCommerceAction={"action_type": "6", "step": "1"},
             transaction={"transactionId": "T-1001", "transactionRevenue": "61990000",
                          "transactionTax": "5000000", "transactionShipping": "2000000",
                          "currencyCode": "USD"},
             product=[product("SKU-12", "24990000", "2"), product("SKU-7", 12010000, 1),
                      product("SKU-99", 5000000, None, True)]),
        event(6, 95500, eCommerceAction={"action_type": "6"},
              transaction={"transactionId": "T-1001", "transactionRevenue": 61990000},
              product=[product("SKU-12", 24990000, 2), product("SKU-7", 12010000, 1)]),
    ],
    "userId": None, "clientId": "123.456", "channelGrouping": "Organic Search",
    "socialEngagementType": "Not Socially Engaged",
}

# B: direct, ids as JSON numbers, starts 23:50 UTC and has its last hit at 00:05 the next day
VISIT_B = {
    "fullVisitorId": 2222222222222222, "visitId": "1501631400", "visitNumber": 3,
    "visitStartTime": 1501631400, "date": "20170801",
    "totals": {"visits": 1, "hits": 3, "pageviews": 3, "timeOnSite": 900, "bounces": None,
               "newVisits": None},
    "trafficSource": {"source": "(direct)", "medium": "(none)", "campaign": "(not set)",
                      "isTrueDirect": True},
    "device": {"browser": "Safari", "operatingSystem": "iOS", "isMobile": True,
               "deviceCategory": "mobile", "language": "de-de"},
    "geoNetwork": {"country": "Iceland", "region": "(not set)"},
    "hits": [page(1, 0, "/"), page(2, 300000, "/category_bags"),
             page(3, 900000, "/category_bags?page=2", isExit=True)],
}

# C: a bounce from a paid campaign, geo hidden as in Google's demo dataset
VISIT_C = {
    "fullVisitorId": "333", "visitId": 1501574400, "visitStartTime": 1501574400,
    "date": "20170801",
    "totals": {"visits": 1, "hits": 1, "pageviews": 1, "bounces": 1, "newVisits": 1},
    "trafficSource": {"source": "google", "medium": "cpc", "campaign": "summer_sale",
                      "adContent": "ad_a", "adwordsClickInfo": {"page": 1}},
    "device": {"browser": "Firefox", "operatingSystem": "Windows", "deviceCategory": "tablet"},
    "geoNetwork": {"country": "not available in demo dataset",
                   "region": "not available in demo dataset"},
    "hits": [page(1, 0, "/category_shoes", isEntrance=True, isExit=True)],
}

# D: non-interactive hits only (totals.visits null): events, no session
VISIT_D = {
    "fullVisitorId": "444", "visitId": "1501578000", "visitStartTime": 1501578000,
    "date": "20170801", "totals": {"visits": None, "hits": "2", "pageviews": None},
    "trafficSource": {"source": "(direct)", "medium": "(none)"},
    "device": {"deviceCategory": "desktop", "browser": "Chrome"},
    "geoNetwork": {"country": "Germany"},
    "hits": [event(1, 0, isInteraction=False), event(2, 4000, isInteraction=False)],
}

# E: referral; two purchase hits whose transactionId is '(not set)' or missing
VISIT_E = {
    "fullVisitorId": "555", "visitId": 1501599600, "visitStartTime": 1501599600,
    "date": "20170801",
    "totals": {"visits": "1", "hits": "3", "pageviews": "3", "timeOnSite": "40",
               "transactions": "2", "totalTransactionRevenue": "30000000"},
    "trafficSource": {"source": "blog.example.com", "medium": "referral",
                      "referralPath": "/best-bags"},
    "device": {"deviceCategory": "desktop"},
    "geoNetwork": {"country": "India", "region": "Karnataka"},
    "hits": [
        page(1, 0, "/home"),
        page(2, 20000, "/ordercompleted", eCommerceAction={"action_type": "6"},
             transaction={"transactionId": "(not set)", "transactionRevenue": "10000000"},
             product=[product("SKU-3", "10000000", "1")]),
        page(3, 40000, "/ordercompleted", eCommerceAction={"action_type": "6"},
             transaction={"transactionRevenue": 20000000},
             product=[product("SKU-4", None, 2)]),
    ],
}

# G: one visit that GA split at the property's midnight: the same visitId in both days' tables
VISIT_G1 = {
    "fullVisitorId": "777", "visitId": "1501631000", "visitStartTime": "1501631000",
    "date": "20170801", "totals": {"visits": "1", "hits": "1", "pageviews": "1"},
    "trafficSource": {"source": "(direct)", "medium": "(none)"},
    "device": {"deviceCategory": "desktop"}, "geoNetwork": {"country": "France"},
    "hits": [page(1, 0, "/")],
}
VISIT_G2 = VISIT_G1 | {
    "visitStartTime": "1501632000", "date": "20170802",
    "totals": {"visits": "1", "hits": "2", "pageviews": "2", "timeOnSite": "60"},
    "hits": [page(1, 0, "/category_bags"), page(2, 60000, "/cart")],
}

DAY1, DAY2 = date(2017, 8, 1), date(2017, 8, 2)
A, B, C, D, E = ("0123456789012345678.1501560000", "2222222222222222.1501631400",
                 "333.1501574400", "444.1501578000", "555.1501599600")


def write(source: Path, day: str, name: str, visits: list[dict]) -> None:
    path = source / "ga_sessions" / f"date={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("".join(json.dumps(v) + "\n" for v in visits).encode()))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A lake with two GA360 export days, each run through `clicklake run` as it arrives;
    visit A's line also arrives a second time, in a re-sent file."""
    home = tmp_path_factory.mktemp("ga360")
    source = home / "source"
    write(source, "2017-08-01", "ga_sessions_20170801.jsonl.gz",
          [VISIT_A, VISIT_B, VISIT_C, VISIT_D, VISIT_E, VISIT_G1])
    write(source, "2017-08-01", "ga_sessions_20170801_resent.jsonl.gz", [VISIT_A])
    write(source, "2017-08-02", "ga_sessions_20170802.jsonl.gz", [VISIT_G2])
    # a daily export is read by the first run hour of its day: one hour a day is enough
    for day in ("2017-08-01", "2017-08-02"):
        result = clicklake(home, "run", "--start", f"{day}T00", "--end", f"{day}T01")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    con = connect(settings=load_settings({"CLICKLAKE_HOME": str(home),
                                          "CLICKLAKE_ENV_FILE": "/nonexistent"}))
    yield con
    con.close()


def rows(con, sql: str, *params) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def one(con, sql: str, *params):
    found = rows(con, sql, *params)
    assert len(found) == 1, found
    return found[0]


def test_every_export_line_is_loaded_with_its_ids_as_digits(lake):
    assert rows(lake, "select fullVisitorId, visitId, visitStartTime from raw.ga_sessions "
                      "where fullVisitorId = '2222222222222222'") == [
        ("2222222222222222", "1501631400", 1501631400)]
    assert one(lake, "select count(*) from raw.ga_sessions") == (8,)


def test_a_row_is_a_session_only_when_totals_visits_is_1(lake):
    found = rows(lake, "select session_id, session_date from stage.sessions "
                       "where source_format = 'ga360' order by session_id")
    assert found == sorted([(A, DAY1), (B, DAY1), (C, DAY1), (E, DAY1),
                            ("777.1501631000", DAY1), ("777.1501631000.2", DAY2)])


def test_non_interactive_hits_are_events_of_their_visitor_in_no_session(lake):
    assert rows(lake, "select event_id, session_id, visitor_id, event_type from stage.events "
                      "where visitor_id = '444' order by event_id") == [
        (D + "-1", None, "444", "event"), (D + "-2", None, "444", "event")]


def test_session_figures_are_googles_totals_not_recounted_hits(lake):
    got = {r[0]: r[1:] for r in rows(lake, """
        select session_id, pageviews, is_bounce, is_engaged, duration_s, orders, revenue, events,
            converted
        from stage.sessions where source_format = 'ga360'""")}
    # A: totals.pageviews is 5 though 4 PAGE hits were exported; revenue with tax and shipping
    assert got[A] == (5, False, True, 95, 1, Decimal("61.99"), 6, True)
    assert got[B] == (3, False, True, 900, 0, Decimal("0.00"), 3, False)
    assert got[C] == (1, True, False, 0, 0, Decimal("0.00"), 1, False)
    # E: two orders whose ids cannot be deduplicated: Google's totals count both
    assert got[E] == (3, False, True, 40, 2, Decimal("30.00"), 3, True)


def test_a_session_has_its_landing_and_exit_pages_and_add_to_carts(lake):
    assert one(lake, "select landing_page, exit_page, add_to_carts, session_start, session_end "
                     "from stage.sessions where session_id = ?", A) == (
        "/home", "/ordercompleted", 1, datetime(2017, 8, 1, 4, 0, tzinfo=UTC),
        datetime(2017, 8, 1, 4, 1, 35, 500000, tzinfo=UTC))


def test_a_hit_happens_at_visit_start_plus_its_milliseconds(lake):
    found = rows(lake, "select event_id, event_ts, event_date, event_hour from stage.events "
                       "where session_id = ? order by event_ts", B)
    assert found == [
        (B + "-1", datetime(2017, 8, 1, 23, 50, tzinfo=UTC), DAY1, datetime(2017, 8, 1, 23)),
        (B + "-2", datetime(2017, 8, 1, 23, 55, tzinfo=UTC), DAY1, datetime(2017, 8, 1, 23)),
        (B + "-3", datetime(2017, 8, 2, 0, 5, tzinfo=UTC), DAY2, datetime(2017, 8, 2, 0)),
    ]
    assert one(lake, "select event_ts from stage.events where event_id = ?", A + "-6") == (
        datetime(2017, 8, 1, 4, 1, 35, 500000, tzinfo=UTC),)


def test_a_line_loaded_twice_counts_once(lake):
    assert one(lake, "select count(*), count(distinct event_id) from stage.events "
                     "where session_id = ?", A) == (6, 6)
    assert one(lake, "select count(*) from stage.sessions where session_id = ?", A) == (1,)


def test_hits_are_typed_and_ecommerce_comes_from_the_action_type(lake):
    found = rows(lake, """
        select event_id, event_type, is_pageview, page_path, page_url, page_type, funnel_step,
            ecommerce_action, product_id
        from stage.events where session_id = ? order by event_id""", A)
    assert found == [
        (A + "-1", "pageview", True, "/home", f"https://{HOST}/home", "other", None, None, None),
        # the impression SKU-99 listed on the page is not what was added
        (A + "-2", "pageview", True, "/product_12", f"https://{HOST}/product_12?color=red",
         "product", "add_to_cart", "add_to_cart", "SKU-12"),
        (A + "-3", "event", False, "/home", f"https://{HOST}/home", "other", None, None, None),
        (A + "-4", "pageview", True, "/checkout", f"https://{HOST}/checkout", "checkout",
         "checkout", None, None),
        (A + "-5", "pageview", True, "/ordercompleted", f"https://{HOST}/ordercompleted",
         "other", None, "purchase", None),
        (A + "-6", "event", False, "/home", f"https://{HOST}/home", "other", None, "purchase",
         None),
    ]


def test_an_order_is_one_transaction_id_counted_once(lake):
    assert rows(lake, "select order_id, order_ts, order_date, session_id, visitor_id, items, "
                      "revenue, unpriced_items from stage.orders where session_id = ?", A) == [
        ("T-1001", datetime(2017, 8, 1, 4, 1, 35, tzinfo=UTC), DAY1, A, "0123456789012345678",
         3, Decimal("61.99"), 0)]


def test_a_purchase_without_a_transaction_id_is_an_order_of_its_own(lake):
    assert rows(lake, "select order_id, items, revenue, unpriced_items from stage.orders "
                      "where session_id = ? order by order_id", E) == [
        (E + "-2", 1, Decimal("10.00"), 0), (E + "-3", 2, Decimal("20.00"), 2)]


def test_order_items_are_the_units_bought_not_the_impressions(lake):
    assert rows(lake, """
        select product_id, product_name, category, price, currency, count(*) as units
        from stage.order_items where order_id = 'T-1001'
        group by all order by product_id""") == [
        ("SKU-12", "Name SKU-12", "Bags", Decimal("24.99"), "USD", 2),
        ("SKU-7", "Name SKU-7", "Bags", Decimal("12.01"), "USD", 1)]
    assert one(lake, "select count(*), count(price) from stage.order_items "
                     "where order_id = ?", E + "-3") == (2, 0)


def test_traffic_source_device_and_geo_are_the_visits(lake):
    got = {r[0]: r[1:] for r in rows(lake, """
        select session_id, utm_source, utm_medium, utm_campaign, referer_medium, device_type,
            os_name, browser_name, geo_country, geo_region
        from stage.sessions where session_id in (?, ?, ?, ?)""", A, B, C, E)}
    assert got[A] == ("google", "organic", None, "search", "desktop", "Macintosh", "Chrome",
                      "US", "California")
    # direct is untagged, like the tracker's; a country the unit does not map keeps its name
    assert got[B] == (None, None, None, None, "mobile", "iOS", "Safari", "Iceland", None)
    assert got[C] == ("google", "cpc", "summer_sale", None, "tablet", "Windows", "Firefox",
                      None, None)
    assert got[E] == ("blog.example.com", "referral", None, "referral", "desktop", None, None,
                      "IN", "Karnataka")
    assert one(lake, "select utm_content, device_is_mobile, browser_language from stage.events "
                     "where event_id = ?", C + "-1") == ("ad_a", True, None)


def test_a_visit_split_at_midnight_is_two_sessions_with_distinct_keys(lake):
    assert rows(lake, "select session_id, events, pageviews from stage.sessions "
                      "where visitor_id = '777' order by session_date") == [
        ("777.1501631000", 1, 1), ("777.1501631000.2", 2, 2)]
    assert one(lake, "select count(*), count(distinct event_id) from stage.events "
                     "where visitor_id = '777'") == (3, 3)


def test_daily_kpis_give_the_exports_own_totals(lake):
    # sessions, pageviews and bounces from totals; orders once per transactionId
    assert rows(lake, "select date, sessions, pageviews, orders, revenue, events from "
                      "mart.daily_kpis order by date") == [
        (DAY1, 5, 5 + 3 + 1 + 3 + 1, 3, Decimal("91.99"), 6 + 2 + 1 + 2 + 3 + 1),
        (DAY2, 1, 2, 0, Decimal("0.00"), 1 + 2)]


def test_no_check_of_error_severity_fails(lake):
    # raw_reconciles among them: raw hits = stage events + the re-sent copy's hits
    assert rows(lake, "select check_name, sample from ops.check_results "
                      "where severity = 'error' and status <> 'pass'") == []


def test_what_changed_counts_the_resent_visits_hits_as_duplicates(lake):
    """The re-sent file's visit A is a copy: "what changed" counts its hits as raw events of
    the day, none kept, all duplicates; the day's events are what stage kept of the export."""
    settings = load_settings({"CLICKLAKE_ENV_FILE": "/nonexistent"})
    history = db.day_history(lake, date(2017, 8, 1), settings.timezone)
    first = history.versions.iloc[0]
    files = {Path(r["file"]).name: r for r in history.files.to_dict("records")
             if r["version"] == first["snapshot_id"]}
    resent = files["ga_sessions_20170801_resent.jsonl.gz"]
    assert (resent["raw_events"], resent["events_kept"], resent["duplicates"]) == (6, 0, 6)
    assert sum(r["events_kept"] for r in files.values()) == first["events"]
