"""The Airflow UI in a real browser: `airflow api-server` serves a private AIRFLOW_HOME with the
repository's DAG folder; headless Chromium (Debian's package) opens it, logs in through the
login form as a user would, and finds both ClickLake DAGs listed without import errors. A
screenshot goes to test-artifacts/airflow/ for a human to look at.

Chromium is driven over the DevTools protocol with the `websockets` client already in the
project's environment, so the test needs nothing beyond it and the browser.
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
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "airflow" / "dags"
ARTIFACTS = ROOT / "test-artifacts" / "airflow"
USER, PASSWORD = "admin", "clicklake-test-password"
WIDTH, HEIGHT = 1400, 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, what: str, proc: subprocess.Popen, log: Path, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.3)
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
def airflow_url(tmp_path_factory):
    """A migrated AIRFLOW_HOME with both DAGs serialized, and its API server on a free port."""
    home = tmp_path_factory.mktemp("airflow-ui")
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CLICKLAKE_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USER}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__API__PORT=str(port),
        CLICKLAKE_HOME=str(home / "lake"),
        CLICKLAKE_ENV_FILE=str(home / "no.env"),
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    for step in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run([airflow, *step], env=env, check=True, capture_output=True)
    log = home / "api-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [airflow, "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/v2/version", "airflow api-server", proc, log)
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
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        return result["result"].get("value")

    def wait(self, expression: str, what: str, timeout: float = 40):
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.3)
        text = self.evaluate("document.body ? document.body.innerText.slice(0, 600) : ''")
        pytest.fail(f"{what} not seen in {timeout:.0f}s; the page shows: {text!r}", pytrace=False)

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
    profile = tmp_path_factory.mktemp("chromium-airflow")
    log = profile / "chromium.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--remote-debugging-port={port}", f"--user-data-dir={profile / 'profile'}",
             f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/json/version", "chromium", proc, log, timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:
            tab = next(t for t in json.load(response) if t["type"] == "page")
        with ws_connect(tab["webSocketDebuggerUrl"], max_size=None) as ws:
            chromium = Chromium(ws)
            chromium.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                          deviceScaleFactor=1, mobile=False)
            yield chromium
    finally:
        stop(proc)


# Types into a React-controlled input the way a keyboard would (the setter React listens to).
FILL_JS = """((selector, value) => {
  const input = document.querySelector(selector);
  if (!input) return false;
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', {bubbles: true}));
  return true;
})(%s, %s)"""


def test_a_user_logs_in_and_sees_both_clicklake_dags(airflow_url, browser):
    browser.call("Page.navigate", url=f"{airflow_url}/dags")
    browser.wait("!!document.querySelector('input[type=password]')", "the login form")
    for selector, value in (("input[name=username]", USER),
                            ("input[type=password]", PASSWORD)):
        assert browser.evaluate(FILL_JS % (json.dumps(selector), json.dumps(value))), selector
    browser.evaluate("document.querySelector('button[type=submit]').click()")
    browser.wait("!location.pathname.startsWith('/auth/login')", "leaving the login page")

    browser.call("Page.navigate", url=f"{airflow_url}/dags")
    listed = ("['clickstream_hourly', 'lake_maintenance']"
              ".every((d) => document.body.innerText.includes(d))")
    browser.wait(listed, "both DAGs in the list")
    time.sleep(1)  # let the list finish drawing for the screenshot
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dags.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    text = browser.evaluate("document.body.innerText")
    assert "2 Dags" in text and "import error" not in text.lower()
