"""Generate, GA flavour: the simulated shop of generate.py written as a Google Analytics export.

`writer("ga360" | "ga4", shop, file_format)` receives every visit of the simulation (its visitor,
traffic, events as (t_ms, 0 pageview / 1 click, path, action) and each order's (product, price)
lines) and writes them in the export's daily layout:

    ga_sessions/date=YYYY-MM-DD/ga_sessions_YYYYMMDD.jsonl.gz   one session per line (GA360),
                                                                on the UTC day the visit started
    ga4_events/date=YYYY-MM-DD/events_YYYYMMDD.jsonl.gz         one event per line (GA4), on the
                                                                UTC day of the event

(`.parquet` instead with file_format="parquet", written by DuckDB as BigQuery's EXPORT DATA
would). A page view is a GA360 PAGE hit or a GA4 page_view; a product page view is the add to
cart (GA360 eCommerceAction '3', GA4 add_to_cart beside its page_view); the confirmation page is
the purchase (GA360 '6' with transaction{} and product[], GA4 purchase with ecommerce{} and
items[]). Money is the shop's price (tax included) in millionths (GA360) or in dollars (GA4).

The export's quirks are drawn from their own random stream, so the shop stays the tracker's:
INT64s as strings or numbers (JSON only: Parquet is typed), null or missing nested fields,
sessions crossing midnight, duplicate transaction hits or purchase events (the order counts
once, at its first), purchases whose transaction id is '(not set)', empty, null or missing (each
its own order), GA360 non-interactive rows (totals.visits null: hits, no session) and GA4
consent-mode pings (no user_pseudo_id, no ga_session_id: events in no visit). truth.json counts
them by those rules: events are the rows (GA4) or hits (GA360) written, by their UTC day;
sessions, pageviews (totals.pageviews / page_view events, on the session's day), orders and
revenue are the shop's; by_utm_source is keyed by GA's session source ('(none)' for direct, as
the marts show it) and by_product by SKU.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from clicklake.generate import _DEVICES, _GEO, DAY_MS, SHOP

HOST = SHOP.removeprefix("https://")
STREAM_ID = "4012345678"
# country code: GA's name, continent, sub-continent, tax rate included in the shop's prices
_COUNTRY = {
    "US": ("United States", "Americas", "Northern America", 0.0),
    "CA": ("Canada", "Americas", "Northern America", 0.0),
    "BR": ("Brazil", "Americas", "South America", 0.0),
    "GB": ("United Kingdom", "Europe", "Northern Europe", 0.2),
    "DE": ("Germany", "Europe", "Western Europe", 0.19),
    "FR": ("France", "Europe", "Western Europe", 0.2),
    "NL": ("Netherlands", "Europe", "Western Europe", 0.21),
    "ES": ("Spain", "Europe", "Southern Europe", 0.21),
    "AU": ("Australia", "Oceania", "Australasia", 0.1),
    "JP": ("Japan", "Asia", "Eastern Asia", 0.1),
}
_CITY = {"California": "San Francisco", "New York": "New York", "Texas": "Austin",
         "England": "London", "Scotland": "Edinburgh", "Bavaria": "Munich", "Berlin": "Berlin",
         "Ile-de-France": "Paris", "Occitanie": "Toulouse", "North Holland": "Amsterdam",
         "Madrid": "Madrid", "Catalonia": "Barcelona", "Ontario": "Toronto",
         "British Columbia": "Vancouver", "New South Wales": "Sydney", "Sao Paulo": "Sao Paulo",
         "Tokyo": "Tokyo"}
# by _DEVICES index: GA's operating system and version, brand, model, marketing name, screen
_DEVICE = (("Windows", "10", "(not set)", "(not set)", "(not set)", "1920x1080"),
           ("Macintosh", "10.15.7", "Apple", "Macintosh", "(not set)", "1440x900"),
           ("Linux", "(not set)", "(not set)", "(not set)", "(not set)", "1920x1080"),
           ("iOS", "17.3", "Apple", "iPhone", "iPhone", "390x844"),
           ("Android", "14", "Google", "Pixel 8", "Pixel 8", "412x915"),
           ("iOS", "17.3", "Apple", "iPad", "iPad", "820x1180"),
           ("Android", "13", "Samsung", "SM-X700", "Galaxy Tab S8", "800x1280"))
_VERSION = {"Chrome": "122.0.0.0", "Edge": "122.0.0.0", "Firefox": "123.0", "Safari": "17.3",
            "Samsung Internet": "24.0"}
_CHANNEL = {"direct": "Direct", "organic": "Organic Search", "paid": "Paid Search",
            "email": "Email", "social": "Organic Social", "referral": "Referral"}
_SEARCH = {"www.google.com": "google", "www.bing.com": "bing", "duckduckgo.com": "duckduckgo"}
# the fields of a hit that are the same on every hit of this shop
_HIT_TAIL = (',"exceptionInfo":{"isFatal":true},"promotion":[],"experiment":[],'
             '"customVariables":[],"customDimensions":[],"customMetrics":[],'
             '"social":{"socialNetwork":"(not set)","hasSocialSourceReferral":"No",'
             '"socialInteractionNetworkAction":" : "},"contentGroup":{"contentGroup1":'
             '"(not set)","contentGroup2":"(not set)","previousContentGroup1":"(entrance)"},'
             '"dataSource":"web","publisher_infos":[]}')
_OWN_FILE = re.compile(r"(ga_sessions|events)_\d{8}\.(jsonl\.gz|parquet)")


def writer(format: str, shop, file_format: str) -> _Writer:
    """The GA writer for `format` ('ga360' or 'ga4') of the shop generate.py simulates."""
    return (Ga360Writer if format == "ga360" else Ga4Writer)(shop, file_format)


def _s(value) -> str | None:
    return None if value is None else json.dumps(value)


def _obj(pairs: list[tuple[str, str | None]], sparse: bool) -> str:
    """A JSON object of already rendered values; None is null, or left out when sparse."""
    if sparse:
        return "{" + ",".join([f'"{k}":{v}' for k, v in pairs if v is not None]) + "}"
    return "{" + ",".join([f'"{k}":{"null" if v is None else v}' for k, v in pairs]) + "}"


_PARAM = ('{"key":"%s","value":{"string_value":%s,"int_value":null,"float_value":null,'
          '"double_value":null}}',
          '{"key":"%s","value":{"string_value":null,"int_value":%s,"float_value":null,'
          '"double_value":null}}',
          '{"key":"%s","value":{"string_value":null,"int_value":null,"float_value":null,'
          '"double_value":%s}}')
_SPARSE_PARAM = ('{"key":"%s","value":{"string_value":%s}}',
                 '{"key":"%s","value":{"int_value":%s}}',
                 '{"key":"%s","value":{"double_value":%s}}')


class _DayFile:
    """One day's export file, appended to hour by hour (in order, on one thread) and closed
    when the day is complete. Parquet is written at the close, from the day's JSON lines."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parquet = path.suffix == ".parquet"
        self.file = open(path.with_name(path.name + ".jsonl") if self.parquet else path, "wb")
        # mtime=0 and no file name in the header: the same lines give the same bytes
        self.out = self.file if self.parquet else gzip.GzipFile("", "wb", 5, self.file, mtime=0)

    def append(self, lines: list[str]) -> None:
        for i in range(0, len(lines), 20_000):
            self.out.write(("\n".join(lines[i : i + 20_000]) + "\n").encode())

    def close(self) -> None:
        self.out.close()
        self.file.close()
        if self.parquet:
            _to_parquet(Path(self.file.name), self.path)


def _to_parquet(source: Path, path: Path) -> None:
    import duckdb

    con = duckdb.connect(config={"threads": 1})
    try:
        # records keep their nested structs and lists, typed from every line as BigQuery's are
        con.execute(f"""copy (select * from read_json('{source}', format = 'newline_delimited',
                    sample_size = -1, map_inference_threshold = -1, hive_partitioning = false,
                    dateformat = '%Y-%m-%d', timestampformat = '%Y-%m-%dT%H:%M:%S.%fZ'))
                    to '{path}' (format parquet, compression zstd)""")
    finally:
        con.close()
        source.unlink()


class _Writer:
    """What both exports share: days, quirk draws, GA's names for visitors, traffic, products."""

    stream = name = ""

    def __init__(self, shop, file_format: str):
        self.dest, self.hours, self.hour_day = shop.dest / self.stream, shop.hours, shop.hour_day
        self.day0_ms = shop.start_ms - shop.start_ms % DAY_MS
        self.end_ms = shop.end_ms
        self.day_names = shop.day_names
        self.ymd = [d.replace("-", "") for d in shop.day_names]
        self.products, self.price_at = shop.products, shop._price_at
        self.category_products = shop.category_products
        self.q = random.Random(f"clicklake-ga-{shop.seed}")
        self.file_format = file_format
        self.typed = file_format == "parquet"  # Parquet columns have one type: no "1" vs 1
        self.events = [0] * len(shop.day_names)
        self.rows: dict[int, list[str]] = {}
        self.files: dict[int, Future] = {}  # day -> its open _DayFile
        self.thread = ThreadPoolExecutor(max_workers=1)
        self.lines, self.written = 0, set()
        # uid -> [visits so far, last visit id, first visit ms, first traffic, revenue cents]
        self.users: dict[str, list] = {}
        self._traffic: dict[tuple, tuple] = {}
        self._cache: dict[tuple, str] = {}

    def sku(self, pid: int) -> str:
        return f"SKU-{pid:04d}"

    def source(self, kind: str, key: tuple) -> str:
        """GA's session source of a visit (its landing's referer_url, referer_medium,
        utm_medium, utm_source, utm_content, utm_campaign), the truth's by_utm_source key."""
        if (kind, key) not in self._traffic:
            referer, _, medium, source, content, campaign = key
            path = keyword = None
            if source:
                keyword = "(not provided)" if medium == "cpc" else None
            elif kind == "organic":
                source, medium = _SEARCH[referer.split("/")[2]], "organic"
                keyword = "(not provided)"
            elif kind == "referral":
                host, path = referer.split("/", 3)[2:]
                source, medium, path = host, "referral", "/" + path
            else:
                source, medium = "(direct)", "(none)"
            self._traffic[kind, key] = (source, medium, campaign or "(not set)", content, path,
                                        referer, keyword, _CHANNEL[kind], kind)
        return self._traffic[kind, key][0]

    def _user(self, uid: str, t0: int, kind: str, key: tuple) -> tuple[list, int, tuple]:
        """The visitor's record, this visit's id (unique per visitor) and its GA traffic."""
        traffic = self._traffic[kind, key]
        user = self.users.get(uid)
        if user is None:
            user = self.users[uid] = [0, 0, t0, traffic, 0]
        user[0] += 1
        user[1] = max(t0 // 1000, user[1] + 1)
        return user, user[1], traffic

    def _day(self, ms: int) -> int:
        return (ms - self.day0_ms) // DAY_MS

    def _add(self, day: int, line: str, events: int) -> None:
        self.rows.setdefault(day, []).append(line)
        self.events[day] += events

    def _int(self, as_string: bool):
        if as_string:
            return lambda v: "null" if v is None else f'"{v}"'
        return lambda v: "null" if v is None else str(v)

    def _maybe_str(self, p: float) -> bool:
        # drawn for Parquet too, so that both file formats hold the same records
        return self.q.random() < p and not self.typed

    def flush(self, h: int, pool: ThreadPoolExecutor) -> list[Future]:
        """Queue the rows of the visits simulated up to hour h for writing (on the writer's own
        thread, so that a file's appends keep their order), and close hour h's day when h is its
        last generated hour: no later visit starts (GA360) or has an event (GA4) that day."""
        futures = []
        for day, rows in sorted(self.rows.items()):
            if day not in self.files:
                ext = "jsonl.gz" if self.file_format == "jsonl" else "parquet"
                path = (self.dest / f"date={self.day_names[day]}"
                        / f"{self.name}_{self.ymd[day]}.{ext}")
                self.written.add(path)
                self.files[day] = self.thread.submit(_DayFile, path)
            self.lines += len(rows)
            futures.append(self.thread.submit(lambda f, r: f.result().append(r),
                                              self.files[day], rows))
        self.rows = {}
        if h + 1 == self.hours or self.hour_day[h + 1] != self.hour_day[h]:
            for day in [d for d in self.files if d <= self.hour_day[h]]:
                futures.append(self.thread.submit(lambda f: f.result().close(),
                                                  self.files.pop(day)))
        if h + 1 == self.hours:
            self.thread.shutdown(wait=False)
        return futures

    def remove_stale_files(self) -> None:
        """Delete generator-named files of the generated days that this run did not write."""
        for day in self.day_names:
            folder = self.dest / f"date={day}"
            for path in folder.iterdir() if folder.is_dir() else ():
                if _OWN_FILE.fullmatch(path.name) and path not in self.written:
                    path.unlink()

    def _lines(self, paid: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """An order's (product, unit price, quantity) lines, one per SKU in first-added order."""
        qty = Counter(paid)
        return [(pid, price, qty[pid, price]) for pid, price in dict.fromkeys(paid)]

    def _tax(self, geo_at: int, cents: int) -> int:
        rate = _COUNTRY[_GEO[geo_at][0]][3]
        return round(cents * rate / (1 + rate))

    def _order_id(self, uid: str, t: int) -> tuple[str | None, bool]:
        """The order's transaction id (None: the field is missing) and whether a duplicate
        repeats it: most ids are real, a few '(not set)', empty or missing."""
        r = self.q.random()
        if r < 0.03:
            return "(not set)", False
        if r < 0.05:
            return "", False
        if r < 0.07:
            return None, False
        return f"ORD-{t}-{uid[-4:]}", r > 0.95

    def _title(self, path: str) -> str:
        if path.startswith("/product_"):
            return self.products[int(path[9:])][0] + " | Shop"
        if path.startswith("/category_"):
            return path[10:].capitalize() + " | Shop"
        return {"/": "Home", "/cart": "Cart", "/checkout": "Checkout",
                "/confirmation": "Thank you"}[path] + " | Shop"


class Ga360Writer(_Writer):
    """GA360's BigQuery export: one session row per line with its hits[], per start day."""

    stream, name = "ga_sessions", "ga_sessions"

    def visit(self, t0: int, uid: str, info: tuple, kind: str, key: tuple, query: str,
              events: list[tuple[int, int, str, int]], paid: list[list[tuple[int, int]]]) -> None:
        """Write one visit as a session row (and now and then a non-interactive row)."""
        q = self.q.random
        user, visit_id, traffic = self._user(uid, t0, kind, key)
        start_s, day = t0 // 1000, self._day(t0)
        sparse, hits_i = q() < 0.3, self._int(self._maybe_str(0.7))
        empty = ("null", '{"currencyCode":"USD"}', None)[int(q() * 3)]  # a hit's unused objects
        hits, pageviews, orders, revenue, hit_days = [], 0, 0, 0, Counter()
        last_page = max(i for i, e in enumerate(events) if e[1] == 0)
        for i, (t, etype, path, action) in enumerate(events):
            time = t - start_s * 1000 if i else 0
            ts = start_s * 1000 + time
            page = self._page(path, query if i == 0 else "", sparse)
            product, duplicate = "[]", False
            transaction, action_type, kind_ = empty, "0", "PAGE"
            if etype:
                kind_ = "EVENT"
            else:
                pageviews += 1
                if action > 0:
                    action_type = "3"
                    product = "[" + self._product(action, self.price_at(action, t), 1, None, 0,
                                                  hits_i, sparse) + "]"
                elif path.startswith("/category_"):
                    product = self._impressions(path, t, hits_i, sparse)
                elif path == "/checkout":
                    action_type = "5"
                elif action < 0:
                    action_type, lines = "6", self._lines(paid[orders])
                    orders += 1
                    cents = sum(price * n for _, price, n in lines)
                    revenue += cents
                    tid, duplicate = self._order_id(uid, t)
                    transaction = self._transaction(tid, cents, self._tax(info[1], cents),
                                                    hits_i, sparse)
                    product = "[" + ",".join(self._product(pid, price, n, price * n, 0, hits_i,
                                                           sparse)
                                             for pid, price, n in lines) + "]"
            hit = self._hit(len(hits) + 1, time, ts, kind_, page, i == 0 and etype == 0,
                            i == last_page, traffic[5] if i == 0 else None, transaction,
                            product, action_type, path, hits_i, sparse)
            hits.append(hit)
            hit_days[self._day(ts)] += 1
            if duplicate and t + 3000 < self.end_ms:
                # the same purchase sent again as a TRANSACTION hit: the order counts once
                dup = t + 1000 + int(q() * 2000)
                hits.append(self._hit(len(hits) + 1, dup - start_s * 1000, dup, "TRANSACTION",
                                      page, False, False, None, transaction, product, "6", path,
                                      hits_i, sparse))
                hit_days[self._day(dup)] += 1
        totals = self._totals(1, len(hits), pageviews, (events[-1][0] - t0) // 1000, user[0] == 1,
                              orders, revenue * 10_000, sparse)
        self._row(day, user, uid, info, visit_id, start_s, totals, traffic, hits, sparse)
        for d, n in hit_days.items():
            self.events[d] += n
        if q() < 0.01 and self._day(t0 + 30_000) == day and t0 + 30_000 < self.end_ms:
            self._non_interactive(uid, info, user, t0 + 1000 + int(q() * 20_000), traffic)

    def _non_interactive(self, uid: str, info: tuple, user: list, t: int, traffic: tuple) -> None:
        """A row of background hits only (totals.visits null): events of no session."""
        q = self.q.random
        start_s, sparse, hits_i = t // 1000, q() < 0.3, self._int(self._maybe_str(0.7))
        user[1] += 1
        page = self._page("/", "", sparse)
        hits = [self._hit(n + 1, n * 4000, start_s * 1000 + n * 4000, "EVENT", page, False, False,
                          None, "null", "[]", "0", "/", hits_i, sparse, interactive=False)
                for n in range(1 + int(q() * 2))]
        totals = self._totals(None, len(hits), None, 0, False, 0, 0, sparse)
        self._row(self._day(t), user, uid, info, user[1], start_s, totals, traffic, hits, sparse)
        self.events[self._day(t)] += len(hits)

    def _row(self, day: int, user: list, uid: str, info: tuple, visit_id: int, start_s: int,
             totals: str, traffic: tuple, hits: list[str], sparse: bool) -> None:
        q = self.q.random
        int_of = [self._int(self._maybe_str(0.6)) for _ in range(3)]
        full_id = (int(uid[1:], 16) * 7919 + 10**18) % 10**19
        custom = ('[{"index":"4","value":"' + _COUNTRY[_GEO[info[1]][0]][1] + '"}]'
                  if q() < 0.5 else "[]" if not sparse else None)
        pairs = [("visitorId", None), ("visitNumber", int_of[0](user[0])),
                 ("visitId", int_of[1](visit_id)), ("visitStartTime", int_of[2](start_s)),
                 ("date", f'"{self.ymd[day]}"'), ("totals", totals),
                 ("trafficSource", self._traffic_source(traffic, user, sparse)),
                 ("device", self._device(info, sparse)), ("geoNetwork", self._geo(info, sparse)),
                 ("customDimensions", custom), ("hits", "[" + ",".join(hits) + "]"),
                 ("fullVisitorId", f'"{full_id}"'), ("userId", _s(info[4])),
                 ("clientId", f'"{int(uid[1:9], 16)}.{user[2] // 1000}"'),
                 ("channelGrouping", f'"{traffic[7]}"'),
                 ("socialEngagementType", '"Not Socially Engaged"')]
        self.rows.setdefault(day, []).append(_obj(pairs, sparse))

    def _totals(self, visits: int | None, hits: int, pageviews: int | None, seconds: int,
                new: bool, transactions: int, revenue: int, sparse: bool) -> str:
        i = self._int(self._maybe_str(0.6))
        bounce = pageviews == 1
        money = i(revenue) if transactions else None
        return _obj([("visits", i(visits)), ("hits", i(hits)), ("pageviews", i(pageviews)),
                     ("timeOnSite", None if bounce or not visits else i(max(1, seconds))),
                     ("bounces", i(1) if bounce else None),
                     ("transactions", i(transactions) if transactions else None),
                     ("transactionRevenue", money), ("newVisits", i(1) if new else None),
                     ("screenviews", None), ("uniqueScreenviews", None), ("timeOnScreen", None),
                     ("totalTransactionRevenue", money),
                     ("sessionQualityDim", i(1 + int(self.q.random() * 100)) if visits else None)],
                    sparse)

    def _traffic_source(self, traffic: tuple, user: list, sparse: bool) -> str:
        source, medium, campaign, content, path, _, keyword, _, kind = traffic
        key = ("ts", traffic, sparse, user[3] == traffic and user[0] > 1)
        if key not in self._cache:
            clicks = ('{"campaignId":"1234567","adGroupId":"7654321","creativeId":"5551234",'
                      '"criteriaId":"9876","page":"1","slot":"Top","criteriaParameters":'
                      '"demo dataset unavailable","gclId":null,"customerId":"3456789012",'
                      '"adNetworkType":"Google Search","targetingCriteria":null,'
                      '"isVideoAd":false}' if kind == "paid"
                      else '{"criteriaParameters":"not available in demo dataset"}')
            self._cache[key] = _obj([
                ("referralPath", _s(path)), ("campaign", _s(campaign)), ("source", _s(source)),
                ("medium", _s(medium)), ("keyword", _s(keyword)), ("adContent", _s(content)),
                ("adwordsClickInfo", clicks),
                ("isTrueDirect", "true" if kind == "direct" or key[3] else None),
                ("campaignCode", None)], sparse)
        return self._cache[key]

    def _device(self, info: tuple, sparse: bool) -> str:
        key = ("device", info[0], info[2], info[3], sparse)
        if key not in self._cache:
            os, version, brand, model, name, screen = _DEVICE[info[0]]
            category = _DEVICES[info[0]][0]
            self._cache[key] = _obj([
                ("browser", _s(info[2])), ("browserVersion", _s(_VERSION[info[2]])),
                ("browserSize", '"(not set)"'), ("operatingSystem", _s(os)),
                ("operatingSystemVersion", _s(version)),
                ("isMobile", "false" if category == "desktop" else "true"),
                ("mobileDeviceBranding", _s(brand)), ("mobileDeviceModel", _s(model)),
                ("mobileInputSelector", None if category == "desktop" else '"touchscreen"'),
                ("mobileDeviceInfo", _s(f"{brand} {model}")),
                ("mobileDeviceMarketingName", _s(name)), ("flashVersion", '"(not set)"'),
                ("javaEnabled", None), ("language", _s(info[3])), ("screenColors", '"24-bit"'),
                ("screenResolution", _s(screen)), ("deviceCategory", _s(category))], sparse)
        return self._cache[key]

    def _geo(self, info: tuple, sparse: bool) -> str:
        key = ("geo", info[1], sparse)
        if key not in self._cache:
            code, _, region, _, lat, lon, _ = _GEO[info[1]]
            country, continent, sub, _ = _COUNTRY[code]
            self._cache[key] = _obj([
                ("continent", _s(continent)), ("subContinent", _s(sub)),
                ("country", _s(country)), ("region", _s(region)), ("metro", '"(not set)"'),
                ("city", _s(_CITY[region])), ("cityId", '"not available in demo dataset"'),
                ("networkDomain", '"(not set)"'), ("latitude", _s(str(lat))),
                ("longitude", _s(str(lon))), ("networkLocation", None)], sparse)
        return self._cache[key]

    def _page(self, path: str, query: str, sparse: bool) -> str:
        key = ("page", path, query, sparse)
        if key not in self._cache:
            levels = [f"/{p}" for p in path.split("/")[1:]] + ["", "", ""]
            self._cache[key] = _obj(
                [("pagePath", _s(path + query)), ("hostname", _s(HOST)),
                 ("pageTitle", _s(self._title(path))), ("searchKeyword", None),
                 ("searchCategory", None)]
                + [(f"pagePathLevel{n + 1}", _s(levels[n])) for n in range(4)], sparse)
        return self._cache[key]

    def _product(self, pid: int, price: int, qty: int | None, revenue: int | None,
                 position: int, i, sparse: bool) -> str:
        name, category = self.products[pid]
        listed = '"(not set)"' if not position else f'"category_{category}"'
        money = None if revenue is None else i(revenue * 10_000)  # cents to millionths
        return _obj([("productSKU", f'"{self.sku(pid)}"'), ("v2ProductName", _s(name)),
                     ("v2ProductCategory", _s(f"Home/{category.capitalize()}/")),
                     ("productVariant", '"(not set)"'), ("productBrand", '"(not set)"'),
                     ("productRevenue", money), ("localProductRevenue", money),
                     ("productPrice", i(price * 10_000)),
                     ("localProductPrice", i(price * 10_000)), ("productQuantity", i(qty)),
                     ("productRefundAmount", None), ("localProductRefundAmount", None),
                     ("isImpression", "true" if position else None), ("isClick", None),
                     ("customDimensions", "[]"), ("customMetrics", "[]"),
                     ("productListName", listed), ("productListPosition", i(position))], sparse)

    def _impressions(self, path: str, t: int, i, sparse: bool) -> str:
        """A category page lists its first four products: impressions, not cart lines."""
        cat = [c for c in self.category_products
               if self.products[c[0]][1] == path[10:]][0]
        return "[" + ",".join(self._product(pid, self.price_at(pid, t), None, None, n + 1, i,
                                            sparse) for n, pid in enumerate(cat[:4])) + "]"

    def _transaction(self, tid: str | None, cents: int, tax: int, i, sparse: bool) -> str:
        pairs = [("transactionId", _s(tid)), ("transactionRevenue", i(cents * 10_000)),
                 ("transactionTax", i(tax * 10_000)), ("transactionShipping", i(0)),
                 ("affiliation", None), ("currencyCode", '"USD"'),
                 ("localTransactionRevenue", i(cents * 10_000)),
                 ("localTransactionTax", i(tax * 10_000)), ("localTransactionShipping", i(0)),
                 ("transactionCoupon", None)]
        if tid is None and self.q.random() < 0.5:
            pairs = pairs[1:]  # the field itself is missing, not null
        return _obj(pairs, sparse and tid is not None)

    def _hit(self, number: int, time: int, ts: int, type_: str, page: str, entrance: bool,
             exit_: bool, referer: str | None, transaction: str | None, product: str,
             action_type: str, path: str, i, sparse: bool, interactive: bool = True) -> str:
        event = None
        if type_ == "EVENT":
            event = ('{"eventCategory":"engagement","eventAction":"click","eventLabel":'
                     f'"{path}","eventValue":null}}' if interactive else
                     '{"eventCategory":"video","eventAction":"progress","eventLabel":'
                     '"hero-video","eventValue":null}')
        return _obj([
            ("hitNumber", i(number)), ("time", i(time)), ("hour", i(ts // 3_600_000 % 24)),
            ("minute", i(ts // 60_000 % 60)), ("isSecure", None),
            ("isInteraction", "true" if interactive else None),
            ("isEntrance", "true" if entrance else None), ("isExit", "true" if exit_ else None),
            ("referer", _s(referer)), ("page", page), ("transaction", transaction),
            ("item", '{"currencyCode":"USD"}' if not sparse else None),
            ("appInfo", f'{{"screenName":"{HOST}{path}","screenDepth":"0"}}'),
            ("eventInfo", event), ("product", product),
            ("eCommerceAction", f'{{"action_type":"{action_type}","step":{i(1)},'
                                '"option":null}'),
            ("type", f'"{type_}"')], sparse)[:-1] + _HIT_TAIL


@lru_cache(maxsize=1 << 16)
def _param(key: str, s: str | None = None, i: int | None = None, d: float | None = None,
           as_string: bool = False, sparse: bool = False) -> str:
    """One event_params entry: {key, value{string_value, int_value, float_value, double_value}}."""
    if s is not None:
        slot, value = 0, json.dumps(s)
    elif i is not None:
        slot, value = 1, f'"{i}"' if as_string else str(i)
    else:
        slot, value = 2, repr(float(d))
    return (_SPARSE_PARAM if sparse else _PARAM)[slot] % (key, value)


class Ga4Writer(_Writer):
    """GA4's BigQuery export: one event per line, per the event's UTC day."""

    stream, name = "ga4_events", "events"

    def visit(self, t0: int, uid: str, info: tuple, kind: str, key: tuple, query: str,
              events: list[tuple[int, int, str, int]], paid: list[list[tuple[int, int]]]) -> None:
        """Write one visit as its GA4 events (and now and then a consent-mode ping)."""
        q = self.q.random
        user, session_id, traffic = self._user(uid, t0, kind, key)
        as_str, sparse = self._maybe_str(0.6), q() < 0.3
        number = user[0]
        pseudo = f"{int(uid[1:], 16) % 10**10}.{user[2] // 1000}"
        common = [_param("ga_session_id", i=session_id, as_string=as_str, sparse=sparse),
                  _param("ga_session_number", i=number, as_string=as_str, sparse=sparse)]
        source, medium, campaign, content, _, referer, keyword, _, kind = traffic
        session_params = [_param(k, s=v, sparse=sparse) for k, v in (
            ("source", source), ("medium", medium), ("campaign", campaign),
            ("content", content), ("term", keyword)) if v is not None]
        ltv = user[4]
        user_block = self._user_block(uid, info, pseudo, user, ltv, sparse, as_str)
        tail = self._last_click(traffic, sparse) if q() < 0.7 else ""
        collected = self._collected(traffic, t0, sparse)
        duration = events[-1][0] - t0
        pageviews = sum(1 for e in events if e[1] == 0)
        engaged = duration >= 10_000 or pageviews > 1 or bool(paid)
        basket: list[tuple[int, int]] = []
        orders, prev_page, prev_t, seq = 0, referer, t0, 0
        for n, (t, etype, path, action) in enumerate(events):
            page = [_param("page_location", s=SHOP + path + (query if n == 0 else ""),
                           sparse=sparse),
                     _param("page_title", s=self._title(path), sparse=sparse)]
            if prev_page:
                page.append(_param("page_referrer", s=prev_page, sparse=sparse))
            flag = [_param("session_engaged", i=1, as_string=as_str, sparse=sparse) if q() < 0.5
                    else _param("session_engaged", s="1", sparse=sparse)] if engaged and n else []
            if etype:
                name = "user_engagement" if q() < 0.5 else "scroll" if q() < 0.6 else "click"
                params = common + page + flag + [
                    _param("engagement_time_msec", i=t - prev_t, as_string=as_str, sparse=sparse)]
                seq += 1
                self._event(t, name, params, user_block, tail, seq, sparse, as_str)
                if q() < 0.02:  # consent denied: a cookieless ping of the same event
                    self._event(t, name, page, self._ping_block(info, sparse), "", 0, sparse,
                                as_str)
                prev_t = t
                continue
            first = [] if n else (["first_visit"] if number == 1 else []) + ["session_start"]
            for name in first:
                seq += 1
                self._event(t, name, common + page + session_params, user_block, tail, seq,
                            sparse, as_str, collected=collected)
            extra = session_params + [_param("entrances", i=1, as_string=as_str,
                                             sparse=sparse)] if n == 0 else []
            seq += 1
            self._event(t, "page_view", common + page + flag + extra, user_block, tail, seq,
                        sparse, as_str, collected=collected if n == 0 else None)
            if action > 0:
                price = self.price_at(action, t)
                basket.append((action, price))
                seq += 1
                self._event(t, "add_to_cart", common + page + flag + [
                    _param("currency", s="USD", sparse=sparse),
                    _param("value", d=price / 100, sparse=sparse)], user_block, tail, seq,
                    sparse, as_str, items=[self._item(action, price, 1, None, as_str, sparse)])
            elif path == "/checkout":
                seq += 1
                self._event(t, "begin_checkout", common + page + flag, user_block, tail, seq,
                            sparse, as_str, items=[self._item(p, c, n_, None, as_str, sparse)
                                                   for p, c, n_ in self._lines(basket)])
            elif action < 0:
                seq = self._purchase(uid, info, t, paid[orders], common + page + flag,
                                     user_block, tail, seq, sparse, as_str)
                user[4] += sum(price for _, price in paid[orders])
                orders, basket = orders + 1, []
            prev_page, prev_t = SHOP + path, t

    def _purchase(self, uid: str, info: tuple, t: int, paid: list[tuple[int, int]],
                  params: list[str], user_block: str, tail: str, seq: int, sparse: bool,
                  as_str: bool) -> int:
        lines = self._lines(paid)
        cents = sum(price * n for _, price, n in lines)
        tax = self._tax(info[1], cents)
        tid, duplicate = self._order_id(uid, t)
        ecommerce = _obj([
            ("total_item_quantity", self._int(as_str)(sum(n for *_, n in lines))),
            ("purchase_revenue_in_usd", repr(cents / 100)), ("purchase_revenue", repr(cents / 100)),
            ("refund_value_in_usd", None), ("refund_value", None),
            ("shipping_value_in_usd", "0.0"), ("shipping_value", "0.0"),
            ("tax_value_in_usd", repr(tax / 100)), ("tax_value", repr(tax / 100)),
            ("unique_items", self._int(as_str)(len(lines))), ("transaction_id", _s(tid))],
            sparse and tid is not None)
        items = [self._item(pid, price, n, price * n, as_str, sparse) for pid, price, n in lines]
        params = params + [_param("currency", s="USD", sparse=sparse),
                           _param("value", d=cents / 100, sparse=sparse)]
        if tid is not None:
            params.append(_param("transaction_id", s=tid, sparse=sparse))
        times = [t]
        if duplicate and t + 3000 < self.end_ms:  # sent twice: the order counts once
            times.append(t + 1000 + int(self.q.random() * 2000))
        for at in times:
            seq += 1
            self._event(at, "purchase", params, user_block, tail, seq, sparse, as_str,
                        value=repr(cents / 100), ecommerce=ecommerce, items=items)
        return seq

    def _event(self, t: int, name: str, params: list[str], user_block: str, tail: str, seq: int,
               sparse: bool, as_str: bool, collected: str | None = None, value: str | None = None,
               ecommerce: str | None = None, items: list[str] | None = None) -> None:
        us = t * 1000
        day = self._day(t)
        flip = self.q.random() < 0.1  # drawn for Parquet too: both hold the same records
        stamp = f'"{us}"' if as_str or (flip and not self.typed) else str(us)
        seq_ = (f'"{seq}"' if as_str else str(seq)) if seq else "null"
        t_ = f'"{t}"' if as_str else str(t)
        null = "" if sparse else "null"
        optional = [(k, v) for k, v in (
            ("event_previous_timestamp", None), ("event_value_in_usd", value),
            ("event_server_timestamp_offset", None), ("ecommerce", ecommerce),
            ("collected_traffic_source", collected), ("publisher", None))
            if v is not None or null]
        extra = "".join([f',"{k}":{v or null}' for k, v in optional])
        line = (f'{{"event_date":"{self.ymd[day]}","event_timestamp":{stamp},'
                f'"event_name":"{name}","event_params":[{",".join(params)}],'
                f'"event_bundle_sequence_id":{seq_},{user_block},'
                f'"items":[{",".join(items or ())}],'
                f'"is_active_user":{"true" if seq else "false"},"batch_event_index":{seq_},'
                f'"batch_page_id":{t_},"batch_ordering_id":{seq_}{extra}{tail}}}')
        self.rows.setdefault(day, []).append(line)
        self.events[day] += 1

    def _user_block(self, uid: str, info: tuple, pseudo: str, user: list, ltv: int,
                    sparse: bool, as_str: bool) -> str:
        """The fields every event of a visit repeats: visitor, device, geo, first touch."""
        i = self._int(as_str)
        first = user[3]
        name = first[2] if first[2] != "(not set)" else f"({first[8]})"
        ltv_obj = (f'{{"revenue":{ltv / 100!r},"currency":"USD"}}' if ltv
                   else None if sparse or self.q.random() < 0.5
                   else '{"revenue":0.0,"currency":"USD"}')
        body = _obj([
            ("user_id", _s(info[4])), ("user_pseudo_id", f'"{pseudo}"'),
            ("privacy_info", _obj([("analytics_storage", '"Yes"'), ("ads_storage", '"Yes"'),
                                   ("uses_transient_token", '"No"')], sparse)),
            ("user_properties", "[]"), ("user_first_touch_timestamp", i(user[2] * 1000)),
            ("user_ltv", ltv_obj), ("device", self._device(info, sparse)),
            ("geo", self._geo(info, sparse)), ("app_info", None),
            ("traffic_source", _obj([("name", _s(name)), ("medium", _s(first[1])),
                                     ("source", _s(first[0]))], sparse)),
            ("stream_id", f'"{STREAM_ID}"'), ("platform", '"WEB"'),
            ("event_dimensions", None)], sparse)
        return body[1:-1]

    def _ping_block(self, info: tuple, sparse: bool) -> str:
        return _obj([
            ("user_id", None), ("user_pseudo_id", None),
            ("privacy_info", '{"analytics_storage":"No","ads_storage":"No",'
                             '"uses_transient_token":"Yes"}'),
            ("user_properties", "[]"), ("user_first_touch_timestamp", None), ("user_ltv", None),
            ("device", self._device(info, sparse)), ("geo", self._geo(info, sparse)),
            ("app_info", None), ("traffic_source", None), ("stream_id", f'"{STREAM_ID}"'),
            ("platform", '"WEB"'), ("event_dimensions", None)], sparse)[1:-1]

    def _device(self, info: tuple, sparse: bool) -> str:
        key = ("device", info[0], info[2], info[3], sparse)
        if key not in self._cache:
            os, version, brand, model, name, _ = _DEVICE[info[0]]
            self._cache[key] = _obj([
                ("category", _s(_DEVICES[info[0]][0])), ("mobile_brand_name", _s(brand)),
                ("mobile_model_name", _s(model)), ("mobile_marketing_name", _s(name)),
                ("mobile_os_hardware_model", None), ("operating_system", _s(os)),
                ("operating_system_version", _s(f"{os} {version}")), ("vendor_id", None),
                ("advertising_id", None), ("language", _s(info[3].lower())),
                ("is_limited_ad_tracking", '"No"'), ("time_zone_offset_seconds", None),
                ("browser", None), ("browser_version", None),
                ("web_info", _obj([("browser", _s(info[2])),
                                   ("browser_version", _s(_VERSION[info[2]])),
                                   ("hostname", _s(HOST))], sparse))], sparse)
        return self._cache[key]

    def _geo(self, info: tuple, sparse: bool) -> str:
        key = ("geo", info[1], sparse)
        if key not in self._cache:
            code, _, region, *_ = _GEO[info[1]]
            country, continent, sub, _ = _COUNTRY[code]
            self._cache[key] = _obj([
                ("city", _s(_CITY[region])), ("country", _s(country)),
                ("continent", _s(continent)), ("region", _s(region)),
                ("sub_continent", _s(sub)), ("metro", '"(not set)"')], sparse)
        return self._cache[key]

    def _collected(self, traffic: tuple, t0: int, sparse: bool) -> str | None:
        """collected_traffic_source of a tagged landing (utm tags or a gclid), else null."""
        source, medium, campaign, content, _, _, keyword, _, kind = traffic
        if kind not in ("paid", "email", "social"):
            return None
        return _obj([("manual_campaign_id", None), ("manual_campaign_name", _s(campaign)),
                     ("manual_source", _s(source)), ("manual_medium", _s(medium)),
                     ("manual_term", None), ("manual_content", _s(content)),
                     ("gclid", f'"Cj0K{t0:x}"' if kind == "paid" else None),
                     ("dclid", None), ("srsltid", None)], sparse)

    def _last_click(self, traffic: tuple, sparse: bool) -> str:
        key = ("last_click", traffic, sparse)
        if key not in self._cache:
            source, medium, campaign, content, _, _, keyword, channel, _ = traffic
            manual = _obj([("campaign_id", None), ("campaign_name", _s(campaign)),
                           ("source", _s(source)), ("medium", _s(medium)),
                           ("term", _s(keyword)), ("content", _s(content)),
                           ("source_platform", '"Manual"'), ("creative_format", None),
                           ("marketing_tactic", None)], sparse)
            cross = _obj([("campaign_id", None), ("campaign_name", _s(campaign)),
                          ("source", _s(source)), ("medium", _s(medium)),
                          ("source_platform", '"Manual"'),
                          ("default_channel_group", _s(channel)),
                          ("primary_channel_group", _s(channel))], sparse)
            self._cache[key] = (f',"session_traffic_source_last_click":{{"manual_campaign":'
                                f'{manual},"google_ads_campaign":null,'
                                f'"cross_channel_campaign":{cross}}}')
        return self._cache[key]

    def _item(self, pid: int, price: int, qty: int, revenue: int | None, as_str: bool,
              sparse: bool) -> str:
        name, category = self.products[pid]
        i = self._int(as_str)
        money = None if revenue is None else repr(revenue / 100)
        unset = '"(not set)"'
        return _obj([("item_id", f'"{self.sku(pid)}"'), ("item_name", _s(name)),
                     ("item_brand", unset), ("item_variant", unset),
                     ("item_category", _s(category.capitalize())), ("item_category2", None),
                     ("item_category3", None), ("item_category4", None),
                     ("item_category5", None), ("price_in_usd", repr(price / 100)),
                     ("price", repr(price / 100)), ("quantity", i(qty)),
                     ("item_revenue_in_usd", money), ("item_revenue", money),
                     ("item_refund_in_usd", None), ("item_refund", None), ("coupon", unset),
                     ("affiliation", unset), ("location_id", unset), ("item_list_id", unset),
                     ("item_list_name", unset), ("item_list_index", unset),
                     ("promotion_id", unset), ("promotion_name", unset),
                     ("creative_name", unset), ("creative_slot", unset),
                     ("item_params", "[]")], sparse)

