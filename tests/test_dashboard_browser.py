"""The dashboard in a real browser: `streamlit run` serves a small built lake, headless Chromium
(Debian's package) opens every page, waits until Streamlit has finished running it and every
lazy element has drawn, checks that no error element is shown, and saves a screenshot of each
page to test-artifacts/dashboard/ for a human to look at.

Chromium is driven over the DevTools protocol with the `websockets` client Streamlit itself
depends on, so the test needs nothing beyond the project's environment and the browser.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

from clicklake import pipeline
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit" / "app.py"
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
START = datetime(2024, 3, 5, 10, tzinfo=UTC)
HOURS = 2
WIDTH, HEIGHT = 1400, 1800
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
    errors: Array.from(main.querySelectorAll('[data-testid="stException"], '
      + '[data-testid="stAlertContentError"]')).map((e) => e.textContent.slice(0, 300)),
  };
})()"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, what: str, proc: subprocess.Popen, log: Path, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{what} did not come up at {url}:\n{log.read_text(errors='replace')[-2000:]}",
                pytrace=False)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def lake_env(tmp_path_factory) -> dict[str, str]:
    """Two hours of shop traffic in an embedded lake; the environment to serve it with."""
    home = tmp_path_factory.mktemp("browser-lake")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")}
    env.update(CLICKLAKE_HOME=str(home), CLICKLAKE_ENV_FILE=str(home / "no.env"))
    settings = load_settings(env)
    generate(settings.source_uri, START, HOURS, events_per_hour=300, seed=5)
    con = connect(settings=settings)
    try:
        for h in range(HOURS):
            pipeline.run_hour(con, settings, START + timedelta(hours=h))
    finally:
        con.close()
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


class Chromium:
    """One headless Chromium tab, driven over the DevTools protocol."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, **params):
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:  # events the tab sends meanwhile are not needed
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def render(self, url: str, timeout: float = 30) -> dict:
        """Open `url` and return the page's state once it has finished rendering."""
        self.call("Page.navigate", url=url)
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            time.sleep(0.3)
            state = self.evaluate(STATE_JS)
            done = (state and state["script"] == "notRunning" and state["title"]
                    and not state["skeletons"] and state["drawn"] >= state["charts"])
            if done and state == last:
                return state
            last = state
        pytest.fail(f"{url} did not finish rendering in {timeout:.0f}s: {last}", pytrace=False)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("the browser test needs Debian's chromium: apt-get install -y chromium",
                    pytrace=False)
    port = free_port()
    profile = tmp_path_factory.mktemp("chromium")
    log = profile / "chromium.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--remote-debugging-port={port}", f"--user-data-dir={profile / 'profile'}",
             f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/json/version", "chromium", proc, log)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:
            tab = next(t for t in json.load(response) if t["type"] == "page")
        with ws_connect(tab["webSocketDebuggerUrl"], max_size=None) as ws:
            chromium = Chromium(ws)
            chromium.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                          deviceScaleFactor=1, mobile=False)
            yield chromium
    finally:
        stop(proc)


@pytest.mark.parametrize("path", list(PAGES), ids=[p or "overview" for p in PAGES])
def test_every_page_renders_in_chromium_without_an_error(dashboard_url, browser, path):
    state = browser.render(f"{dashboard_url}/{path}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{path or 'overview'}.png"
    browser.screenshot(shot)
    assert state["errors"] == []
    assert state["title"] == PAGES[path]
    assert state["metrics"] + state["tables"] + state["charts"] >= 2, state
    assert shot.stat().st_size > 20_000  # a page with content, not a blank frame
