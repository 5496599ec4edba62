"""The Airflow UI in a real browser: `airflow api-server` serves a private AIRFLOW_HOME with the
repository's DAG folder; headless Chromium (Debian's package) opens it, logs in through the
login form as a user would, and finds both ClickLake DAGs listed without import errors. A
screenshot goes to test-artifacts/airflow/ for a human to look at.

Chromium is driven over the DevTools protocol (tests/support.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import chromium, free_port, stop, wait_for

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "airflow" / "dags"
ARTIFACTS = ROOT / "test-artifacts" / "airflow"
USER, PASSWORD = "admin", "clicklake-test-password"
WIDTH, HEIGHT = 1400, 900


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


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-airflow"), WIDTH, HEIGHT) as tab:
        yield tab


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
