"""What several test modules need: free ports, starting and stopping a server process, a
headless Chromium tab driven over the DevTools protocol, and a small built lake.

Chromium is Debian's package, driven with the `websockets` client already in the project's
environment, so the browser tests need nothing else.
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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

from clicklake import pipeline
from clicklake.config import Settings
from clicklake.generate import generate
from clicklake.lake import connect


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, what: str, proc: subprocess.Popen, log: Path, timeout: float = 60):
    """GET `url` until it answers (return the body); fail with the server's log if it dies or
    does not answer in time."""
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
    """Stop a server process: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def build_lake(
    settings: Settings, start: datetime, hours: int, events_per_hour: int = 300, seed: int = 5,
    faults: Iterable[str] = (),
) -> dict:
    """Generate `hours` of shop traffic into the settings' source and run them hour by hour,
    as `clicklake run` would; return the generator's summary (with its truth)."""
    summary = generate(settings.source_uri, start, hours, events_per_hour=events_per_hour,
                       seed=seed, faults=faults)
    run_hours(settings, start, hours)
    return summary


def run_hours(settings: Settings, start: datetime, hours: int) -> None:
    """Run the hours [start, start + hours) one by one on the settings' lake, as `clicklake
    run` does."""
    con = connect(settings=settings)
    try:
        for h in range(hours):
            pipeline.run_hour(con, settings, start + timedelta(hours=h))
    finally:
        con.close()


def build_history(
    settings: Settings, start: datetime, days: int, events_per_hour: int = 30, seed: int = 5,
) -> dict:
    """Generate `days` whole days of shop traffic from `start` at a low rate and build them at
    once, as `bench.tasks.history` does: one extract of the whole range, one load, one full
    build (a lake with a long history, in seconds rather than one run per hour); return the
    generator's summary."""
    end = start + timedelta(days=days)
    summary = generate(settings.source_uri, start, days * 24, events_per_hour=events_per_hour,
                       seed=seed)
    con = connect(settings=settings)
    try:
        run_id = pipeline.new_run_id(start)
        pipeline.extract(con, settings, start, end, run_id)
        pipeline.load(con, settings, run_id)
        pipeline.build(con, settings, run_id, end, full=True)
    finally:
        con.close()
    return summary


def clicklake(home: Path, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess:
    """Run `clicklake ARGS` with its lake under `home` and no `.env`, as a user would (with
    `env`'s settings on top)."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("CLICKLAKE_") and not k.startswith("AWS_")}
    env = base | {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent"} | (env or {})
    return subprocess.run([sys.executable, "-m", "clicklake.cli", *args], cwd=home, env=env,
                          capture_output=True, text=True, timeout=120)


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
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


@contextmanager
def chromium(profile: Path, width: int, height: int) -> Iterator[Chromium]:
    """Start headless Chromium with a fresh profile in `profile` and give its first tab."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("the browser tests need Debian's chromium: apt-get install -y chromium",
                    pytrace=False)
    port = free_port()
    log = profile / "chromium.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--remote-debugging-port={port}", f"--user-data-dir={profile / 'profile'}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/json/version", "chromium", proc, log, timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:
            tab = next(t for t in json.load(response) if t["type"] == "page")
        with ws_connect(tab["webSocketDebuggerUrl"], max_size=None) as ws:
            tab = Chromium(ws)
            tab.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                     deviceScaleFactor=1, mobile=False)
            yield tab
    finally:
        stop(proc)
