"""The dashboard in a real browser: `streamlit run` serves a small built lake, headless Chromium
(Debian's package) opens every page, waits until Streamlit has finished running it and every
lazy element has drawn, checks that no error element is shown and that no table needs a
horizontal scroll, and saves a screenshot of each page at each width to test-artifacts/dashboard/
for a human to look at.

Chromium is driven over the DevTools protocol (tests/support.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import Chromium, build_lake, chromium, free_port, stop, wait_for

from clicklake.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit" / "app.py"
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
START = datetime(2024, 3, 5, 10, tzinfo=UTC)
HOURS = 2
WIDTHS = (1280, 1440)  # a laptop and a desktop window: no table may need a horizontal scroll
HEIGHT = 1800
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


@pytest.fixture(scope="module")
def lake_env(tmp_path_factory) -> dict[str, str]:
    """Two hours of shop traffic in an embedded lake; the environment to serve it with."""
    home = tmp_path_factory.mktemp("browser-lake")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")}
    env.update(CLICKLAKE_HOME=str(home), CLICKLAKE_ENV_FILE=str(home / "no.env"))
    build_lake(load_settings(env), START, HOURS)
    return env


@pytest.fixture(scope="module")
def dashboard_url(lake_env, tmp_path_factory):
    """`streamlit run streamlit/app.py`, headless on a free port, until the module ends."""
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    streamlit = Path(sys.executable).with_name("streamlit")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(streamlit), "run", str(APP), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=lake_env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/_stcore/health", "streamlit", proc, log) == b"ok"
        yield base
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


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium"), WIDTHS[0], HEIGHT) as tab:
        yield tab


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", list(PAGES), ids=[p or "overview" for p in PAGES])
def test_every_page_renders_in_chromium_without_an_error_or_a_scrolling_table(
    dashboard_url, browser, path, width
):
    browser.call("Emulation.setDeviceMetricsOverride", width=width, height=HEIGHT,
                 deviceScaleFactor=1, mobile=False)
    state = render(browser, f"{dashboard_url}/{path}")
    shot = ARTIFACTS / f"{path or 'overview'}-{width}.png"
    browser.screenshot(shot)
    assert state["errors"] == []
    assert state["title"] == PAGES[path]
    assert state["metrics"] + state["tables"] + state["charts"] >= 2, state
    assert shot.stat().st_size > 20_000  # a page with content, not a blank frame
    overflowing = browser.evaluate(OVERFLOW_JS)
    assert overflowing == [], f"tables that scroll sideways at {width} px: {overflowing}"


# The page's caption lines, its KPI cards (label → value), its download buttons and its URL.
SHOWN_JS = """(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const text = (el) => el ? el.textContent.trim() : null;
  return {
    captions: Array.from(main.querySelectorAll('[data-testid="stCaptionContainer"]'))
      .map(text),
    metrics: Object.fromEntries(Array.from(main.querySelectorAll('[data-testid="stMetric"]'))
      .map((m) => [text(m.querySelector('[data-testid="stMetricLabel"]')),
                   text(m.querySelector('[data-testid="stMetricValue"]'))])),
    downloads: main.querySelectorAll('[data-testid="stDownloadButton"]').length,
    url: location.href,
  };
})()"""


def test_a_link_with_a_preset_and_filters_opens_exactly_that_view(
    dashboard_url, browser, lake_env
):
    from clicklake.lake import connect  # noqa: PLC0415 — the direct query of the marts

    con = connect(read_only=True, settings=load_settings(lake_env))
    try:
        day, device, country = con.execute("""
            select date, device_type, geo_country from mart.hourly_traffic
            group by all order by sum(sessions) desc, 2, 3 limit 1""").fetchone()
        sessions, orders = con.execute("""
            select sum(sessions), sum(orders) from mart.hourly_traffic
            where date = $1 and device_type = $2 and geo_country = $3""",
                                       [day, device, country]).fetchone()
        (newest,) = con.execute("select max(date) from mart.daily_kpis").fetchone()
    finally:
        con.close()
    assert day == newest  # the browser lake has one day: "today" is that day
    browser.call("Emulation.setDeviceMetricsOverride", width=1440, height=HEIGHT,
                 deviceScaleFactor=1, mobile=False)
    link = f"{dashboard_url}/?preset=today&compare=year&device={device}&country={country}"
    state = render(browser, link)
    assert state["errors"] == []
    shown = browser.evaluate(SHOWN_JS)
    assert f"{day:%d %b %Y} (1 day)" in shown["captions"][0]
    assert shown["metrics"]["Sessions"] == f"{sessions:,}"
    assert shown["metrics"]["Orders"] == f"{orders:,}"
    # the link keeps every filter (Streamlit may reorder the parameters)
    for part in ("preset=today", "compare=year", f"device={device}", f"country={country}"):
        assert part in shown["url"]
    assert shown["downloads"] == state["tables"] >= 1  # one CSV button per table
