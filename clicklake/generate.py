"""Generate: a deterministic simulated shop that writes its source files and their truth.

Visitors arrive on a daily rhythm from six traffic sources and walk home → category → product →
cart → checkout → confirmation with drop-offs and back-and-forth; every page view or click is one
event, split over the four tracker streams of DESIGN.md, next to the shop's product catalog (with
a few price changes). `truth.json` holds daily KPIs computed from the simulation itself under the
business rules the SQL implements, so a pipeline run can be checked against it. Faults are
injected on request from their own random stream: the clean simulation, and so the truth, is the
same with or without them. The same shop can be written as a Google Analytics export instead
(`format="ga360"` or `"ga4"`, daily files, see generate_ga.py): the visits are the same, only
their layout, field names and GA's counting rules differ.
"""

from __future__ import annotations

import gc
import gzip
import json
import random
import re
from bisect import bisect
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

FAULTS = ("duplicates", "late", "malformed", "missing_field", "extra_field")
FORMATS = ("tracker", "ga360", "ga4")
FILE_FORMATS = ("jsonl", "parquet")
EVENT_STREAMS = ("browser_events", "location_events", "device_events", "geo_events")
STREAMS = (*EVENT_STREAMS, "products")
SHOP = "https://shop.example.com"
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
MAX_PAGEVIEWS = 40
# Mean events per visit of the page flow below, measured over 1M visits: visits per hour are
# sized with it so that the generated hours average about events_per_hour events.
EVENTS_PER_VISIT = 4.47
_RHYTHM = (0.25, 0.18, 0.14, 0.13, 0.16, 0.25, 0.45, 0.7, 0.9, 1.05, 1.15, 1.25,
           1.35, 1.45, 1.5, 1.5, 1.55, 1.65, 1.75, 1.8, 1.7, 1.4, 0.95, 0.55)
RHYTHM = tuple(w * 24 / sum(_RHYTHM) for w in _RHYTHM)  # traffic by UTC hour, mean 1

# category: (name nouns, price range in cents, weight); ten products each, ids 1..60 in order
_CATALOG = {
    "shoes": (("Sneaker", "Runner", "Boot"), (4000, 18000), 0.28),
    "bags": (("Backpack", "Tote", "Duffel"), (2500, 22000), 0.2),
    "jackets": (("Parka", "Rain Jacket", "Fleece"), (6000, 30000), 0.15),
    "accessories": (("Cap", "Scarf", "Wallet", "Belt"), (500, 6000), 0.17),
    "outdoor": (("Tent", "Sleeping Bag", "Headlamp"), (1500, 25000), 0.12),
    "home": (("Mug", "Blanket", "Candle"), (800, 9000), 0.08),
}
_ADJECTIVES = ("Classic", "Urban", "Trail", "Lite", "Pro", "Everyday", "Summit", "Coastal",
               "Retro", "Nova")
# kind, weight, conversion factor, utm_sources, utm_medium, campaigns, contents, referers
_TRAFFIC = (
    ("direct", 0.25, 1.0, (), None, (), (), ()),
    ("organic", 0.30, 0.9, (), None, (), (), (
        "https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")),
    ("paid", 0.18, 1.3, ("google",), "cpc", ("spring_sale", "brand", "retargeting"),
     ("ad_a", "ad_b"), ()),
    ("email", 0.10, 1.6, ("newsletter",), "email", ("spring_sale", "weekly_digest"),
     ("hero", "footer"), ()),
    ("social", 0.10, 0.7, ("facebook", "instagram"), "social", ("spring_sale", "influencer"),
     ("feed", "story"), ()),
    ("referral", 0.07, 1.0, (), None, (), (), (
        "https://blog.trailtales.example/best-gear-2024", "https://www.citystyle.example/blog/",
        "https://gearjunkie.example/reviews/shop")),
)
# device_type, os, os_name, weight, conversion factor, browsers, user-agent platform
_DEVICES = (
    ("desktop", "Windows", "Windows 11", 0.30, 1.15, ("Chrome", "Edge", "Firefox"),
     "Windows NT 10.0; Win64; x64"),
    ("desktop", "Mac OS X", "macOS 14", 0.14, 1.15, ("Safari", "Chrome", "Firefox"),
     "Macintosh; Intel Mac OS X 10_15_7"),
    ("desktop", "Linux", "Ubuntu 22.04", 0.02, 1.15, ("Firefox", "Chrome"), "X11; Linux x86_64"),
    ("mobile", "iOS", "iOS 17.3", 0.22, 0.7, ("Safari", "Chrome"),
     "iPhone; CPU iPhone OS 17_3 like Mac OS X"),
    ("mobile", "Android", "Android 14", 0.24, 0.7, ("Chrome", "Samsung Internet", "Firefox"),
     "Linux; Android 14; Pixel 8"),
    ("tablet", "iPadOS", "iPadOS 17.3", 0.05, 0.95, ("Safari",), "iPad; CPU OS 17_3 like Mac OS X"),
    ("tablet", "Android", "Android 13", 0.03, 0.95, ("Chrome",), "Linux; Android 13; SM-X700"),
)
_ENGINES = {
    "Chrome": "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0{m} Safari/537.36",
    "Edge": "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
    "Firefox": "Gecko/20100101 Firefox/123.0",
    "Safari": "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3{m} Safari/604.1",
    "Samsung Internet": "AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
                        "Chrome/117.0.0.0{m} Safari/537.36",
}
# country, language, region, timezone, latitude, longitude, weight
_GEO = (
    ("US", "en-US", "California", "America/Los_Angeles", 36.7, -119.4, 0.13),
    ("US", "en-US", "New York", "America/New_York", 40.7, -74.0, 0.12),
    ("US", "en-US", "Texas", "America/Chicago", 31.0, -99.9, 0.09),
    ("GB", "en-GB", "England", "Europe/London", 52.4, -1.5, 0.10),
    ("GB", "en-GB", "Scotland", "Europe/London", 56.5, -4.2, 0.02),
    ("DE", "de-DE", "Bavaria", "Europe/Berlin", 48.8, 11.5, 0.06),
    ("DE", "de-DE", "Berlin", "Europe/Berlin", 52.5, 13.4, 0.06),
    ("FR", "fr-FR", "Ile-de-France", "Europe/Paris", 48.8, 2.4, 0.05),
    ("FR", "fr-FR", "Occitanie", "Europe/Paris", 43.6, 1.4, 0.03),
    ("NL", "nl-NL", "North Holland", "Europe/Amsterdam", 52.4, 4.9, 0.05),
    ("ES", "es-ES", "Madrid", "Europe/Madrid", 40.4, -3.7, 0.03),
    ("ES", "es-ES", "Catalonia", "Europe/Madrid", 41.4, 2.2, 0.02),
    ("CA", "en-CA", "Ontario", "America/Toronto", 43.7, -79.4, 0.04),
    ("CA", "en-CA", "British Columbia", "America/Vancouver", 49.3, -123.1, 0.03),
    ("AU", "en-AU", "New South Wales", "Australia/Sydney", -33.9, 151.2, 0.06),
    ("BR", "pt-BR", "Sao Paulo", "America/Sao_Paulo", -23.5, -46.6, 0.05),
    ("JP", "ja-JP", "Tokyo", "Asia/Tokyo", 35.7, 139.7, 0.06),
)
_EXTRA_FIELDS = (',"experiment_id":"exp-7"}', ',"consent":{"ads":true}}',
                 ',"tracker_version":"2.4.1"}')
_GARBAGE = ("<html><body>502 Bad Gateway</body></html>", "GET /collect?v=1 HTTP/1.1", "[1,2]",
            '["event_id","click_id"]')
_OWN_FILE = re.compile(r"(part-0000|late-\d{10})\.jsonl\.gz")
_CUM = {name: list(accumulate(t[i] for t in table)) for name, table, i in (
    ("traffic", _TRAFFIC, 1), ("devices", _DEVICES, 3), ("geo", _GEO, 6),
    ("categories", _CATALOG.values(), 2))}
_PRODUCT_CUM = list(accumulate(1 / (i + 1) ** 0.8 for i in range(len(_ADJECTIVES))))
_MMSS = [f"{m:02d}:{s:02d}." for m in range(60) for s in range(60)]
_MILLIS = [f"{ms:03d}Z" for ms in range(1000)]
_COMPACT = (",", ":")
HOME, CATEGORY, PRODUCT, CART, CHECKOUT, CONFIRMATION = range(6)
# the funnel step of a page, by the first four characters of its path (sql/seeds/page_rules.csv)
_STEP = {"/": "browse", "/cat": "browse", "/pro": "add_to_cart", "/car": "cart",
         "/che": "checkout", "/con": "purchase"}
_STEP_ORDER = {"browse": 1, "add_to_cart": 2, "cart": 3, "checkout": 4, "purchase": 5}


def generate(
    dest: str | Path,
    start: datetime,
    hours: int,
    events_per_hour: int = 2000,
    seed: int = 42,
    faults: Iterable[str] = (),
    progress: Callable[[int], None] | None = None,
    format: str = "tracker",
    file_format: str = "jsonl",
) -> dict:
    """Write the shop's source files for the hours [start, start + hours) and `truth.json` under
    `dest`, and return a summary: files, events, lines, rejected_lines (injected lines a correct
    pipeline must reject) and the truth. The same arguments give byte-identical files; a rerun
    overwrites them and deletes generator files it no longer writes in those hours, so no stale
    price rows or late files survive. `progress(i)` is called once i hours are written.
    The hours follow the shop's daily rhythm and average `events_per_hour` events, so a single
    generated hour has about that many whatever its time of day (for GA, tracker events: GA
    writes a few more rows per visit). `format` ga360 or ga4 writes the same shop as that
    export's daily files (`file_format` jsonl or parquet); faults are tracker-only.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}: valid are {', '.join(FORMATS)}")
    if file_format not in FILE_FORMATS or (format == "tracker" and file_format != "jsonl"):
        raise ValueError(f"file_format {file_format!r} is not one {format} writes")
    if format != "tracker" and faults:
        raise ValueError("faults are injected into tracker files only")
    faults = set(faults)
    if faults - set(FAULTS):
        raise ValueError(f"unknown fault(s) {', '.join(sorted(faults - set(FAULTS)))}: "
                         f"valid are {', '.join(FAULTS)}")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware (UTC)")
    start = start.astimezone(UTC)
    if (start.minute, start.second, start.microsecond) != (0, 0, 0):
        raise ValueError(f"start must be at an hour boundary, not {start.isoformat()}")
    if hours < 1 or events_per_hour < 0:
        raise ValueError("hours must be >= 1 and events_per_hour >= 0")
    shop = _Shop(Path(dest), start, hours, seed, faults)
    if format != "tracker":
        from clicklake.generate_ga import writer

        shop.ga = writer(format, shop, file_format)
    # millions of small tuples and lists make the cyclic GC rescan a growing heap for nothing;
    # compression runs in threads (zlib releases the GIL) while the next hour is simulated
    gc_was_enabled = gc.isenabled()
    gc.disable()
    pending: list[Future] = []
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for h in range(hours):
                shop.simulate_hour(h, events_per_hour)
                written = shop.write_hour(h, pool) if shop.ga is None else shop.ga.flush(h, pool)
                for future in pending:
                    future.result()
                if progress is not None and h:
                    progress(h)
                pending = written
            for future in pending:
                future.result()
    finally:
        if gc_was_enabled:
            gc.enable()
    if progress is not None:
        progress(hours)
    if shop.ga is None:
        shop.remove_stale_files()
    else:
        shop.ga.remove_stale_files()
    truth = shop.truth(format)
    (shop.dest / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    out = shop if shop.ga is None else shop.ga
    return {"files": len(out.written), "events": sum(d["events"] for d in truth["days"].values()),
            "lines": out.lines, "rejected_lines": sum(shop.rejected.values()), "truth": truth}


def _iso(ms: int) -> str:
    return f"{datetime.fromtimestamp(ms // 1000, UTC):%Y-%m-%dT%H:%M:%S}.{_MILLIS[ms % 1000]}"


def _count(n: int, rate: float, rng: random.Random, at_least: int = 0) -> int:
    # stochastic rounding keeps the expected share right in small files too
    return min(n, max(at_least, int(n * rate + rng.random())))


def _write_gzip(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 and no file name in the header: the same lines give the same bytes
    with open(path, "wb") as f, gzip.GzipFile("", "wb", 5, f, mtime=0) as gz:
        for i in range(0, len(lines), 50_000):
            gz.write(("\n".join(lines[i : i + 50_000]) + "\n").encode())


class _Shop:
    """The simulation's state: catalog, visitors, per-hour line buffers and truth counters."""

    def __init__(self, dest: Path, start: datetime, hours: int, seed: int, faults: set[str]):
        self.dest, self.start, self.hours, self.seed, self.faults = dest, start, hours, seed, faults
        self.rng = rng = random.Random(seed)
        # drawn whatever the faults, so that asking for faults never changes the simulation
        self.frng = random.Random(rng.getrandbits(64))
        self.start_ms = int(start.timestamp()) * 1000
        # the daily rhythm shapes the hours, and the generated hours average events_per_hour
        # (a whole day is unscaled; one hour alone has events_per_hour events)
        window = [RHYTHM[(start.hour + h) % 24] for h in range(hours)]
        self.rhythm = [w * hours / sum(window) for w in window]
        self.end_ms = self.start_ms + hours * HOUR_MS
        day0_ms = self.start_ms - self.start_ms % DAY_MS
        self.prefix = [_iso(self.start_ms + h * HOUR_MS)[:14] for h in range(hours)]
        self.hour_day = [(self.start_ms + h * HOUR_MS - day0_ms) // DAY_MS for h in range(hours)]
        self.day_names = [(start.date() + timedelta(days=d)).isoformat()
                          for d in range(self.hour_day[-1] + 1)]
        self.days = [[0] * 6 for _ in self.day_names]  # events pv carts orders cents sessions
        self.visitors: list[set[str]] = [set() for _ in self.day_names]
        self.by_source: dict[tuple[int, str], list[int]] = {}  # sessions, orders, cents
        self.by_product: dict[tuple[int, int], list[int]] = {}  # add_to_carts, units, cents
        self.funnel: dict[tuple[int, str], int] = {}  # visits reaching a step, by start day
        self.out: list[list[list[str]]] = [[[] for _ in STREAMS] for _ in range(hours)]
        self.pool: list[tuple] = []
        self.landing_tail: dict[tuple, str] = {}
        self.events = self.lines = 0
        self.written: set[Path] = set()
        self.rejected = dict.fromkeys(STREAMS, 0)
        self.ga = None  # the GA export writer (generate_ga), when one is written instead
        self._make_catalog()
        self.late = self._pick_late() if "late" in faults else {}

    def _make_catalog(self) -> None:
        rng, updated = self.rng, _iso(self.start_ms - DAY_MS)
        self.price, self.category_products, rows = [0], [], []
        for cat, (nouns, (lo, hi), _) in _CATALOG.items():
            self.category_products.append(list(range(len(self.price),
                                                     len(self.price) + len(_ADJECTIVES))))
            for i, adjective in enumerate(_ADJECTIVES):
                self.price.append(rng.randint(lo, hi))
                name = f"{adjective} {nouns[i % len(nouns)]}"
                rows.append({"product_id": len(rows) + 1, "name": name, "category": cat,
                             "price": self.price[-1] / 100, "currency": "USD",
                             "updated_at": updated})
        self.out[0][4] = [json.dumps(r, separators=_COMPACT) for r in rows]
        self.products = [("", "")] + [(r["name"], r["category"]) for r in rows]
        self.category_paths = [f"/category_{cat}" for cat in _CATALOG]
        self.product_paths = [f"/product_{pid}" for pid in range(len(self.price))]
        self.page_tail = {  # a location line after "event_id", for any page but the landing page
            path: f'"page_url":"{SHOP}{path}","page_url_path":"{path}",'
                  '"referer_url":null,"referer_medium":null}'
            for path in ("/", "/cart", "/checkout", "/confirmation", *self.category_paths,
                         *self.product_paths[1:])
        }
        # about 10% of products change price once, at an instant after the first hour
        self.change: dict[int, tuple[int, int]] = {}
        for pid in sorted(rng.sample(range(1, len(self.price)), len(rows) // 10)):
            if self.hours > 1:
                at = self.start_ms + HOUR_MS + int(rng.random() * (self.hours - 1) * HOUR_MS)
                new = min(30000, max(500, round(self.price[pid] * rng.uniform(0.7, 1.3))))
                new += 0 if new != self.price[pid] else (1 if new < 30000 else -1)
                self.change[pid] = (at, new)
                row = dict(rows[pid - 1], price=new / 100, updated_at=_iso(at))
                self.out[(at - self.start_ms) // HOUR_MS][4].append(
                    json.dumps(row, separators=_COMPACT))

    def _pick_late(self) -> dict[tuple[int, int], int]:
        """(stream index, hour) -> the later hour whose folder gets ~5% of that file's lines."""
        frng = self.frng
        pairs = [(s, h) for s in range(len(EVENT_STREAMS)) for h in range(self.hours - 1)]
        chosen = [p for p in pairs if frng.random() < 0.05]
        if pairs and not chosen:  # at least one, so that a faulty run always has late data
            chosen = [frng.choice(pairs)]
        return {(s, h): h + frng.randint(1, min(3, self.hours - 1 - h)) for s, h in chosen}

    def _new_visitor(self) -> tuple:
        # reference strings hold nothing JSON must escape, so lines are formatted directly:
        # json.dumps per line would double the run time
        random = self.rng.random
        device_at = bisect(_CUM["devices"], random() * _CUM["devices"][-1])
        kind, os, os_name, _, factor, browsers, platform = _DEVICES[device_at]
        geo_at = bisect(_CUM["geo"], random() * _CUM["geo"][-1])
        country, language, region, tz, lat, lon, _ = _GEO[geo_at]
        browser = browsers[int(random() * len(browsers))]
        uid = f"u{self.rng.getrandbits(48):012x}"
        custom_id = f"cust-{int(random() * 1e6):06d}" if random() < 0.25 else None
        custom = f'"{custom_id}"' if custom_id else "null"
        device = (f'"os":"{os}","os_name":"{os_name}","os_timezone":"'
                  f'{tz if random() < 0.95 else "UTC"}","device_type":"{kind}",'
                  f'"device_is_mobile":{"true" if kind == "mobile" else "false"},'
                  f'"user_custom_id":{custom},"user_domain_id":"{uid}"}}')
        first = 11 + int(random() * 212)
        ip = ".".join(str(int(random() * 256)) for _ in range(3))
        lat, lon = round(lat + random() * 2 - 1, 4), round(lon + random() * 2 - 1, 4)
        geo = (f'"geo_latitude":{lat},"geo_longitude":{lon},"geo_country":"{country}",'
               f'"geo_timezone":"{tz}","geo_region_name":"{region}",'
               f'"ip_address":"{first + (first >= 127)}.{ip}"}}')
        engine = _ENGINES[browser].format(m=" Mobile" if kind == "mobile" else "")
        language = language if random() < 0.85 else "en-US"
        browser_tail = (f'"browser_name":"{browser}","browser_user_agent":"Mozilla/5.0 '
                        f'({platform}) {engine}","browser_language":"{language}"}}')
        # what a GA export needs to know of the visitor, not formatted for the tracker
        info = (device_at, geo_at, browser, language, custom_id, lat, lon)
        return uid, device, geo, browser_tail, factor, info

    def _events(self, kind: str, factor: float) -> list[tuple[int, str, int]]:
        """The visit's events as (0 = pageview / 1 = click, path, action), each page view followed
        by 0-2 clicks on it; action is the product id for an add-to-cart, -1 for an order."""
        random, cats, prods = self.rng.random, self.category_paths, self.product_paths
        cat_cum, cat_products = _CUM["categories"], self.category_products

        def product(cat: int) -> int:  # a few best sellers per category, then a long tail
            return cat_products[cat][bisect(_PRODUCT_CUM, random() * _PRODUCT_CUM[-1])]

        cat = bisect(cat_cum, random() * cat_cum[-1])
        pid = product(cat)
        r = random()
        if (kind == "paid" and r < 0.5) or (kind == "organic" and r < 0.2):
            state = PRODUCT  # a product ad or search result lands on the product itself
        else:
            state = HOME if random() < 0.55 else CATEGORY
        to_cart, to_checkout = min(0.5, 0.1 * factor), min(0.85, 0.4 * factor)
        to_order = min(0.95, 0.55 * factor)
        pages: list[tuple[str, int]] = []
        items = 0  # products added since the visit's last order
        while len(pages) < MAX_PAGEVIEWS:
            r = random()
            if state == HOME:
                pages.append(("/", 0))
                if r >= 0.75:
                    break
                state, cat = CATEGORY, bisect(cat_cum, random() * cat_cum[-1])
            elif state == CATEGORY:
                pages.append((cats[cat], 0))
                if r < 0.62:
                    state, pid = PRODUCT, product(cat)
                elif r < 0.72:
                    cat = bisect(cat_cum, random() * cat_cum[-1])
                elif r < 0.76:
                    state = HOME
                else:
                    break
            elif state == PRODUCT:
                pages.append((prods[pid], pid))
                items += 1
                if r < 0.05:
                    pass  # the same product page again
                elif r < 0.32:
                    pid = product(cat)
                elif r < 0.45:
                    state = CATEGORY
                elif r < 0.45 + to_cart:
                    state = CART
                else:
                    break
            elif state == CART:
                pages.append(("/cart", 0))
                if r < to_checkout:
                    state = CHECKOUT
                elif r < to_checkout + 0.1:
                    state = CATEGORY
                else:
                    break
            elif state == CHECKOUT:
                pages.append(("/checkout", 0))
                if r < to_order and items:  # never an order without items
                    state = CONFIRMATION
                elif r < 0.97:
                    break
                else:
                    state = CART
            else:
                pages.append(("/confirmation", -1))
                items = 0
                if r >= 0.05:  # rarely, the visit goes on shopping after an order
                    break
                state = HOME
        events = []
        for path, action in pages:
            events.append((0, path, action))
            r = random()
            if r < 0.42:
                events.append((1, path, 0))
                if r < 0.12:
                    events.append((1, path, 0))
        return events

    def simulate_hour(self, h: int, events_per_hour: int) -> None:
        """Simulate the visits that start in hour h; their events may run into later hours."""
        rng, pool, traffic_cum = self.rng, self.pool, _CUM["traffic"]
        n = int(events_per_hour * self.rhythm[h] / EVENTS_PER_VISIT
                + rng.random())
        t0 = self.start_ms + h * HOUR_MS
        for t in sorted(t0 + int(rng.random() * HOUR_MS) for _ in range(n)):
            if pool and rng.random() < 0.3:
                visitor = pool[int(rng.random() * len(pool))]
            else:
                visitor = self._new_visitor()
                pool.append(visitor)
            self._visit(t, visitor, _TRAFFIC[bisect(traffic_cum, rng.random() * traffic_cum[-1])])

    def _visit(self, t: int, visitor: tuple, traffic: tuple) -> None:
        rng, start_ms, end_ms, out = self.rng, self.start_ms, self.end_ms, self.out
        random, getrandbits = rng.random, rng.getrandbits
        uid, device, geo, browser, device_factor, info = visitor
        kind, _, source_factor, sources, medium, campaigns, contents, referers = traffic
        click_id = f"c{getrandbits(64):016x}"
        events = self._events(kind, source_factor * device_factor)
        hour = (t - start_ms) // HOUR_MS
        ga = self.ga
        if ga is None:
            out[hour][2].append(f'{{"click_id":"{click_id}",{device}')
            out[hour][3].append(f'{{"click_id":"{click_id}",{geo}')
        landing: dict = {"referer_url": None, "referer_medium": None, "utm_medium": medium,
                         "utm_source": None, "utm_content": None, "utm_campaign": None}
        query = ""
        if sources:
            landing.update(utm_source=rng.choice(sources), utm_campaign=rng.choice(campaigns),
                           utm_content=rng.choice(contents))
            query = "?" + "&".join(f"{k}={landing[k]}" for k in (
                "utm_source", "utm_medium", "utm_campaign", "utm_content"))
        elif referers:
            landing.update(referer_url=rng.choice(referers),
                           referer_medium="search" if kind == "organic" else "referral")
        key = tuple(landing.values())
        if ga is not None:  # GA's session source; the visit is recorded as (t, etype, path, action)
            source, record, paid, t0 = ga.source(kind, key), [], [], t
            source = "(none)" if source == "(direct)" else source  # untagged, as the marts say
        else:
            source = landing["utm_source"] or "(none)"
        if key not in self.landing_tail:
            self.landing_tail[key] = json.dumps(landing, separators=_COMPACT)[1:]
        landing_tail = self.landing_tail[key]
        day = self.hour_day[hour]
        self.days[day][5] += 1
        by_source = self.by_source.setdefault((day, source), [0, 0, 0])
        by_source[0] += 1
        self.visitors[day].add(uid)
        tails = (f'","event_type":"pageview","click_id":"{click_id}",{browser}',
                 f'","event_type":"click","click_id":"{click_id}",{browser}')
        prefix, hour_day, days, page_tail = self.prefix, self.hour_day, self.days, self.page_tail
        basket: list[int] = []
        reached: set[str] = set()
        start_day = self.hour_day[(t - start_ms) // HOUR_MS]
        by_product = self.by_product
        emitted = 0
        for etype, path, action in events:
            if emitted:
                t += 5000 + int(random() * 115001)
                if t >= end_ms:
                    break  # the generated period ends during the visit
            hour = (t - start_ms) // HOUR_MS
            bits = getrandbits(80)
            if ga is None:
                second, ms = divmod(t - start_ms - hour * HOUR_MS, 1000)
                eid = f"e{bits:020x}"
                lines = out[hour]
                lines[0].append(f'{{"event_id":"{eid}","event_timestamp":"{prefix[hour]}'
                                f'{_MMSS[second]}{_MILLIS[ms]}{tails[etype]}')
                if emitted:
                    lines[1].append(f'{{"event_id":"{eid}",{page_tail[path]}')
                else:
                    lines[1].append(f'{{"event_id":"{eid}","page_url":"{SHOP}{path}{query}",'
                                    f'"page_url_path":"{path}",{landing_tail}')
            else:
                record.append((t, etype, path, action))
            emitted += 1
            day = hour_day[hour]
            counts = days[day]
            counts[0] += 1
            if etype == 0:
                days[start_day][1] += 1  # pageviews count on the visit's day, as GA's totals do
                reached.add(_STEP[path[:4]])
                if action > 0:
                    counts[2] += 1
                    basket.append(action)
                    by_product.setdefault((day, action), [0, 0, 0])[0] += 1
                elif action < 0:
                    cents = 0
                    if ga is not None:
                        paid.append([(pid, self._price_at(pid, t)) for pid in basket])
                    for pid in basket:
                        price = self._price_at(pid, t)
                        cents += price
                        sold = by_product.setdefault((day, pid), [0, 0, 0])
                        sold[1] += 1
                        sold[2] += price
                    basket = []
                    counts[3] += 1
                    counts[4] += cents
                    orders = self.by_source.setdefault((day, source), [0, 0, 0])
                    orders[1] += 1
                    orders[2] += cents
        self.visitors[day].add(uid)  # the last event's day too, for a visit across midnight
        # a visit counts at every funnel step up to the furthest one it reached
        furthest = max(_STEP_ORDER[s] for s in reached) if reached else 0
        for step in _STEP_ORDER:
            if _STEP_ORDER[step] <= furthest:
                self.funnel[(start_day, step)] = self.funnel.get((start_day, step), 0) + 1
        self.events += emitted
        if ga is not None:
            ga.visit(t0, uid, info, kind, key, query, record, paid)

    def _price_at(self, pid: int, t: int) -> int:
        change = self.change.get(pid)
        return change[1] if change and t >= change[0] else self.price[pid]

    def write_hour(self, h: int, pool: ThreadPoolExecutor) -> list[Future]:
        """Queue hour h's files for writing and free its buffers. The hour is complete: visits
        not simulated yet start later. Faults are drawn here, in order, to stay deterministic."""
        files = []
        for s, stream in enumerate(STREAMS):
            lines = self.out[h][s]
            target = self.late.get((s, h))
            if target is not None and lines:
                moved = set(self.frng.sample(range(len(lines)),
                                             _count(len(lines), 0.05, self.frng, 1)))
                late = [line for i, line in enumerate(lines) if i in moved]
                lines = [line for i, line in enumerate(lines) if i not in moved]
                name = f"late-{self.start + timedelta(hours=h):%Y%m%d%H}"
                files.append((stream, target, name, self._spoil(stream, late)))
            files.append((stream, h, "part-0000", self._spoil(stream, lines)))
        self.out[h] = []
        futures = []
        for stream, hour, name, lines in files:
            if lines:
                path = self.dest / stream / self._folder(hour) / f"{name}.jsonl.gz"
                self.written.add(path)
                self.lines += len(lines)
                futures.append(pool.submit(_write_gzip, path, lines))
        return futures

    def _spoil(self, stream: str, lines: list[str]) -> list[str]:
        """The file's lines with the requested faults injected (the same list when none)."""
        faults, frng, n = self.faults, self.frng, len(lines)
        if not n or not faults:
            return lines
        lines = list(lines)
        if "extra_field" in faults:
            for i in frng.sample(range(n), _count(n, 0.02, frng)):
                lines[i] = lines[i][:-1] + frng.choice(_EXTRA_FIELDS)
        if stream == "products":
            return lines
        extras: list[tuple[int, str]] = []  # (index of the original line it goes before, line)
        if "duplicates" in faults:
            for i in frng.sample(range(n), _count(n, 0.01, frng)):
                extras.append((i + 1 if frng.random() < 0.5 else frng.randint(i + 1, n), lines[i]))
        bad = 0
        if "missing_field" in faults:
            for _ in range(_count(n, 0.001, frng, 1)):
                row = json.loads(frng.choice(lines))
                key = "event_id" if stream in ("browser_events", "location_events") else "click_id"
                if stream == "browser_events" and frng.random() < 0.5:
                    key = "event_timestamp"
                if key == "event_timestamp" and frng.random() < 0.5:
                    row[key] = "not-a-time"
                else:
                    del row[key]
                extras.append((frng.randint(0, n), json.dumps(row, separators=_COMPACT)))
                bad += 1
        if "malformed" in faults:
            for _ in range(_count(n, 0.001, frng, 1)):
                line = frng.choice(lines)
                # a line cut short (never valid: its closing brace is gone), or not an object
                garbage = (line[: frng.randint(1, len(line) - 2)] if frng.random() < 0.5
                           else frng.choice(_GARBAGE))
                extras.append((frng.randint(0, n), garbage))
                bad += 1
        self.rejected[stream] += bad
        merged, prev = [], 0
        for pos, line in sorted(extras, key=lambda e: e[0]):
            merged += lines[prev:pos]
            merged.append(line)
            prev = pos
        return merged + lines[prev:]

    def _folder(self, h: int) -> str:
        return f"date={self.start + timedelta(hours=h):%Y-%m-%d/hour=%H}"

    def remove_stale_files(self) -> None:
        """Delete generator-named files in the generated hours that this run did not write."""
        for stream in STREAMS:
            for h in range(self.hours):
                folder = self.dest / stream / self._folder(h)
                for path in folder.glob("*.jsonl.gz") if folder.is_dir() else ():
                    if _OWN_FILE.fullmatch(path.name) and path not in self.written:
                        path.unlink()

    def truth(self, format: str = "tracker") -> dict:
        """The daily KPIs of the clean simulation, keyed by UTC day. Pageviews count on the day
        their visit starts. A GA export counts the events (rows or hits) it wrote, its sessions'
        source and its products' SKUs, as its rules say (generate_ga.py)."""
        days = {}
        for d, (events, pageviews, carts, orders, cents, sessions) in enumerate(self.days):
            if self.ga is not None:
                events = self.ga.events[d]
            if not (events or sessions):
                continue
            by_source = {
                source: {"sessions": v[0], "orders": v[1], "revenue": round(v[2] / 100, 2)}
                for (day, source), v in sorted(self.by_source.items()) if day == d
            }
            sku = str if self.ga is None else self.ga.sku
            by_product = {
                sku(pid): {"add_to_carts": v[0], "units": v[1], "revenue": round(v[2] / 100, 2)}
                for (day, pid), v in sorted(self.by_product.items()) if day == d
            }
            funnel = {step: n for (day, step), n in sorted(self.funnel.items()) if day == d}
            days[self.day_names[d]] = {
                "events": events, "sessions": sessions, "visitors": len(self.visitors[d]),
                "pageviews": pageviews, "add_to_carts": carts, "orders": orders,
                "revenue": round(cents / 100, 2), "by_utm_source": by_source,
                "by_product": by_product, "funnel": funnel,
            }
        rejected = self.rejected if self.ga is None else {self.ga.stream: 0}
        return {"format": format, "start": f"{self.start:%Y-%m-%dT%H:%M:%SZ}",
                "hours": self.hours, "seed": self.seed, "faults": sorted(self.faults),
                "rejected_lines": rejected, "days": days}
