"""The dashboard in a real browser: `streamlit run` serves a built lake, headless Chromium
(Debian's package) opens every page, waits until Streamlit has finished running it and every
lazy element has drawn, checks that no error element is shown and that no table needs a
horizontal scroll, and saves a screenshot of each page at each width to
test-artifacts/dashboard/<page>-<lake>-<width>.png for a human to look at.

Two lakes, each served by its own Streamlit: "1d", two hours of one day built hour by hour as
`clicklake run` does (so it has a snapshot per hour to pin with "as of"), and "30d", thirty
days at a low rate built at once as the history benchmark does (charts and tables over a
month). Chromium is driven over the DevTools protocol (tests/support.py).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import Chromium, build_history, build_lake, chromium, free_port, stop, wait_for

from clicklake import dashboard
from clicklake.config import load_settings
from clicklake.lake import connect

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit" / "app.py"
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
START = datetime(2024, 3, 5, 10, tzinfo=UTC)
HOURS = 2  # the 1-day lake: two hours, one run each
MONTH_START, MONTH_DAYS = datetime(2024, 2, 5, tzinfo=UTC), 30  # the 30-day lake, to 5 Mar
# the first link each lake's pages are opened with: the 30-day lake shows four weeks
LAKES = {"1d": "", "30d": "?preset=last_28"}
WIDTHS = (1280, 1440)  # a laptop and a desktop window: no table may need a horizontal scroll
HEIGHT = 4000  # taller than any page: the screenshot shows the whole page without a redraw
SHOWN = 1000  # a screenshot is at least this tall
# url path → the page's title; the default page is served at the root
PAGES = {
    "": "Overview",
    "funnel": "Funnel",
    "acquisition": "Acquisition",
    "products": "Products",
    "audience": "Audience",
    "behaviour": "Behaviour",
    "cohorts": "Cohorts",
    "data_health": "Data health",
    "history": "What changed",
}

# What the page shows right now; the page is done once Streamlit has stopped running the
# script, no lazy element is still a skeleton, every chart has drawn, and nothing changes.
STATE_JS = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]');
  if (!app || !main) return null;
  const n = (sel) => main.querySelectorAll(sel).length;
  return {
    script: app.getAttribute('data-test-script-state'),
    title: (main.querySelector('h1') || {}).textContent || null,
    skeletons: n('[data-testid="stSkeleton"]'),
    elements: n('[data-testid="stElementContainer"]'),
    metrics: n('[data-testid="stMetric"]'),
    tables: n('[data-testid="stDataFrame"]'),
    charts: n('[data-testid="stVegaLiteChart"]'),
    drawn: n('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'),
    expanders: n('[data-testid="stExpander"] details:not([open])'),
    errors: Array.from(main.querySelectorAll('[data-testid="stException"], '
      + '[data-testid="stAlertContentError"]')).map((e) => e.textContent.slice(0, 300)),
  };
})()"""


@dataclass(frozen=True)
class Served:
    """A lake being served: its name in `LAKES`, the dashboard's base URL and its settings."""

    lake: str
    url: str
    env: dict[str, str]


def _build(lake: str, home: Path) -> dict[str, str]:
    # the lake `lake` under `home`; the environment to serve it with
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")}
    env.update(CLICKLAKE_HOME=str(home), CLICKLAKE_ENV_FILE=str(home / "no.env"))
    if lake == "1d":
        build_lake(load_settings(env), START, HOURS)
    else:
        build_history(load_settings(env), MONTH_START, MONTH_DAYS, events_per_hour=30)
    return env


@pytest.fixture(scope="module")
def lakes(tmp_path_factory) -> dict[str, Future]:
    """Every lake of `LAKES`, each built in its own thread from the module's start: the
    30-day lake goes on building while the 1-day one is served and looked at."""
    with ThreadPoolExecutor(len(LAKES)) as pool:
        yield {lake: pool.submit(_build, lake, tmp_path_factory.mktemp(f"browser-lake-{lake}"))
               for lake in LAKES}


@pytest.fixture(scope="module", params=list(LAKES))
def served(request, lakes, tmp_path_factory) -> Served:
    """A lake of `LAKES` and `streamlit run streamlit/app.py` serving it, headless on a free
    port, until the tests of that lake are done."""
    lake = request.param
    env = lakes[lake].result()
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    streamlit = Path(sys.executable).with_name("streamlit")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(streamlit), "run", str(APP), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/_stcore/health", "streamlit", proc, log) == b"ok"
        yield Served(lake, base, env)
    finally:
        stop(proc)


# Open every collapsed expander, so the tables inside are drawn and measured too.
OPEN_EXPANDERS_JS = """document.querySelectorAll(
  '[data-testid="stMain"] [data-testid="stExpander"] details:not([open]) summary'
).forEach((s) => s.click())"""

# The tables that need a horizontal scroll: the grid's scroller is wider inside than it is
# shown, or the table sticks out of the block that holds it (its headers say which one).
OVERFLOW_JS = """(() => Array.from(
  document.querySelectorAll('[data-testid="stMain"] [data-testid="stDataFrame"]')
).map((el) => {
  const scroller = el.querySelector('.dvn-scroller');
  const box = el.getBoundingClientRect();
  const holder = el.parentElement.getBoundingClientRect();
  const headers = Array.from(el.querySelectorAll('th')).map((th) => th.textContent.trim());
  return {
    columns: headers.filter((h) => h).slice(0, 8).join(' | '),
    hidden: scroller ? scroller.scrollWidth - scroller.clientWidth : 0,
    sticks_out: Math.round(box.right - holder.right),
    width: Math.round(box.width),
  };
}).filter((t) => t.width > 0 && (t.hidden > 1 || t.sticks_out > 1)))()"""


def render(tab: Chromium, url: str, timeout: float = 30) -> dict:
    """Open `url`, open its expanders and return the page's state once it has finished
    rendering."""
    tab.call("Page.navigate", url=url)
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        time.sleep(0.3)
        state = tab.evaluate(STATE_JS)
        done = (state and state["script"] == "notRunning" and state["title"]
                and not state["skeletons"] and state["drawn"] >= state["charts"])
        if done and state["expanders"]:
            tab.evaluate(OPEN_EXPANDERS_JS)
            done = False
        if done and state == last:
            return state
        last = state
    pytest.fail(f"{url} did not finish rendering in {timeout:.0f}s: {last}", pytrace=False)


def size(tab: Chromium, width: int) -> None:
    tab.call("Emulation.setDeviceMetricsOverride", width=width, height=HEIGHT,
             deviceScaleFactor=1, mobile=False)


# how far down the page's content reaches (Streamlit scrolls inside its main block)
BOTTOM_JS = """Math.ceil(document.querySelector('[data-testid="stMainBlockContainer"]')
  .getBoundingClientRect().bottom)"""


def screenshot(tab: Chromium, path: Path, width: int) -> None:
    """Save the page down to the end of its content (the window is taller than any page, so
    nothing is redrawn for the shot), at least `SHOWN` px tall."""
    bottom = max(SHOWN, min(HEIGHT, tab.evaluate(BOTTOM_JS)))
    data = tab.call("Page.captureScreenshot", format="png", clip={
        "x": 0, "y": 0, "width": width, "height": bottom, "scale": 1})["data"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(data))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium"), WIDTHS[0], HEIGHT) as tab:
        yield tab


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", list(PAGES), ids=[p or "overview" for p in PAGES])
def test_every_page_renders_in_chromium_without_an_error_or_a_scrolling_table(
    served, browser, path, width
):
    size(browser, width)
    state = render(browser, f"{served.url}/{path}{LAKES[served.lake]}")
    assert state["errors"] == []
    assert state["title"] == PAGES[path]
    assert state["metrics"] + state["tables"] + state["charts"] >= 2, state
    overflowing = browser.evaluate(OVERFLOW_JS)
    shot = ARTIFACTS / f"{path or 'overview'}-{served.lake}-{width}.png"
    screenshot(browser, shot, width)
    assert shot.stat().st_size > 20_000  # a page with content, not a blank frame
    assert overflowing == [], f"tables that scroll sideways at {width} px: {overflowing}"


# The page's caption lines, its KPI cards (label → value), its download buttons, the "as of"
# banner and its URL.
SHOWN_JS = """(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const text = (el) => el ? el.textContent.trim() : null;
  return {
    captions: Array.from(main.querySelectorAll('[data-testid="stCaptionContainer"]'))
      .map(text),
    metrics: Object.fromEntries(Array.from(main.querySelectorAll('[data-testid="stMetric"]'))
      .map((m) => [text(m.querySelector('[data-testid="stMetricLabel"]')),
                   text(m.querySelector('[data-testid="stMetricValue"]'))])),
    deltas: Array.from(main.querySelectorAll('[data-testid="stMetricDelta"]')).map(text),
    warnings: Array.from(main.querySelectorAll('[data-testid="stAlertContentWarning"]'))
      .map(text),
    downloads: main.querySelectorAll('[data-testid="stDownloadButton"]').length,
    url: location.href,
  };
})()"""


def figures(env: dict[str, str], snapshot: int | None = None) -> dict:
    """Direct queries of the marts (at `snapshot`, None: the latest): the newest day, the
    device and country with the most sessions that day, and that day's sessions, orders and
    revenue for them."""
    con = connect(read_only=True, settings=load_settings(env), snapshot=snapshot)
    try:
        (newest,) = con.execute("select max(date) from mart.daily_kpis").fetchone()
        day, device, country = con.execute("""
            select date, device_type, geo_country from mart.hourly_traffic where date = $1
            group by all order by sum(sessions) desc, 2, 3 limit 1""", [newest]).fetchone()
        return {"day": day, "device": device, "country": country}
    finally:
        con.close()


def kpis(env: dict[str, str], day, device: str, country: str, snapshot: int | None = None):
    """That day's sessions, orders and revenue for one device and country, read from
    mart.hourly_traffic at `snapshot` (None: the latest)."""
    con = connect(read_only=True, settings=load_settings(env), snapshot=snapshot)
    try:
        sessions, orders, revenue = con.execute("""
            select sum(sessions), sum(orders), sum(revenue) from mart.hourly_traffic
            where date = $1 and device_type = $2 and geo_country = $3""",
                                                [day, device, country]).fetchone()
    finally:
        con.close()
    return {"Sessions": f"{sessions:,}", "Orders": f"{orders:,}", "Revenue": f"€{revenue:,.2f}"}


def cards(shown: dict) -> dict[str, str]:
    return {k: shown["metrics"][k] for k in ("Sessions", "Orders", "Revenue")}


@pytest.mark.parametrize("served", ["1d"], indirect=True)
def test_a_link_with_a_preset_and_filters_opens_exactly_that_view(served, browser):
    at = figures(served.env)
    day, device, country = at["day"], at["device"], at["country"]
    size(browser, 1440)
    link = f"{served.url}/?preset=today&compare=year&device={device}&country={country}"
    state = render(browser, link)
    assert state["errors"] == []
    shown = browser.evaluate(SHOWN_JS)
    assert f"{day:%d %b %Y} (1 day)" in shown["captions"][0]  # the lake has one day: today
    assert cards(shown) == kpis(served.env, day, device, country)
    # the link keeps every filter (Streamlit may reorder the parameters)
    for part in ("preset=today", "compare=year", f"device={device}", f"country={country}"):
        assert part in shown["url"]
    assert "as_of" not in shown["url"]
    assert shown["downloads"] == state["tables"] >= 1  # one CSV button per table


@pytest.mark.parametrize("served", ["1d"], indirect=True)
def test_a_link_with_filters_a_preset_and_as_of_shows_the_marts_at_that_snapshot(
    served, browser
):
    con = connect(read_only=True, settings=load_settings(served.env))
    try:  # the snapshots that changed the marts: one build per hour, the first hour's first
        builds = sorted(dashboard.as_of_snapshots(con)["snapshot_id"])
    finally:
        con.close()
    assert len(builds) == HOURS
    first = int(builds[0])
    at = figures(served.env, first)
    day, device, country = at["day"], at["device"], at["country"]
    then = kpis(served.env, day, device, country, first)
    latest = kpis(served.env, day, device, country)
    assert then["Sessions"] != latest["Sessions"]  # the second hour added visits
    size(browser, 1440)
    link = (f"{served.url}/?preset=today&compare=previous&device={device}"
            f"&country={country}&as_of={first}")
    state = render(browser, link)
    assert state["errors"] == []
    shown = browser.evaluate(SHOWN_JS)
    assert cards(shown) == then
    assert shown["deltas"] == []  # the day before has no traffic: no card claims a change
    assert any(f"As of snapshot {first} (" in w for w in shown["warnings"]), shown["warnings"]
    assert f"{day:%d %b %Y} (1 day)" in shown["captions"][0]
    for part in ("preset=today", "compare=previous", f"device={device}",
                 f"country={country}", f"as_of={first}"):
        assert part in shown["url"]
    screenshot(browser, ARTIFACTS / f"overview-{served.lake}-as-of-{first}.png", 1440)
