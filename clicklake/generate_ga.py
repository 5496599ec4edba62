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
from pathlib import Path

from clicklake.generate import _GEO, DAY_MS, SHOP

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
_OWN_FILE = re.compile(r"(ga_sessions|events)_\d{8}\.(jsonl\.gz|parquet)")


def writer(format: str, shop, file_format: str) -> _Writer:
    """The GA writer for `format` ('ga360' or 'ga4') of the shop generate.py simulates."""
    if format == "ga360":
        from clicklake.generate_ga360 import Ga360Writer

        return Ga360Writer(shop, file_format)
    from clicklake.generate_ga4 import Ga4Writer

    return Ga4Writer(shop, file_format)


def _s(value) -> str | None:
    return None if value is None else json.dumps(value)


def _obj(pairs: list[tuple[str, str | None]], sparse: bool) -> str:
    """A JSON object of already rendered values; None is null, or left out when sparse."""
    if sparse:
        return "{" + ",".join([f'"{k}":{v}' for k, v in pairs if v is not None]) + "}"
    return "{" + ",".join([f'"{k}":{"null" if v is None else v}' for k, v in pairs]) + "}"


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
