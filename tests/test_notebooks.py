"""The example notebooks run top to bottom against a small lake and show what it holds."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from support import build_lake

from clicklake.config import load_settings
from clicklake.lake import connect

EXAMPLES = Path(__file__).resolve().parents[1] / "notebook" / "examples"
START = datetime(2024, 3, 1, tzinfo=UTC)
HOURS = 2


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """Two hours of shop traffic run through the embedded lake; the kernel's environment
    points at it and at nothing else (no .env, no server settings)."""
    home = tmp_path_factory.mktemp("notebook-lake")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")}
    env.update(CLICKLAKE_HOME=str(home), CLICKLAKE_ENV_FILE=str(home / "no.env"),
               PLOOMBER_STATS_ENABLED="false", PLOOMBER_VERSION_CHECK_DISABLED="true")
    settings = load_settings(env)
    # malformed lines (an HTML error page among them) give the raw notebook rejections to show
    build_lake(settings, START, HOURS, seed=7, faults=("malformed",))
    reader = connect(read_only=True, settings=settings)
    try:
        yield env, reader
    finally:
        reader.close()


def _run(name: str, env: dict[str, str], cwd: Path) -> list[nbformat.NotebookNode]:
    """Execute notebook/examples/<name>.ipynb with the .venv's python3 kernel; nbclient raises
    CellExecutionError, naming the cell, if any cell fails."""
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)  # the kernel's whole environment
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _has_image(cells: list[nbformat.NotebookNode]) -> bool:
    return any("image/png" in out.get("data", {}) for c in cells for out in c.get("outputs", []))


def _cell(cells: list[nbformat.NotebookNode], marker: str) -> nbformat.NotebookNode:
    return next(c for c in cells if marker in c.source)


# what jupysql prints on its own: tips, hints, deprecations, where it looked for settings
NOISE = ("Tip", "Hint", "deprecat", "jupysql", "configurations in", "Returning data",
         "Running query", "Connecting", "IPython.core.display")


def _no_noise(cells: list[nbformat.NotebookNode]) -> None:
    for cell in cells:
        for out in cell.get("outputs", []):
            shown = out.get("text", "") + "".join(
                v for k, v in out.get("data", {}).items() if k.startswith("text/"))
            for word in NOISE:
                assert word.lower() not in shown.lower(), f"{cell.source[:40]!r}: {shown[:200]}"


def _no_errors(cells: list[nbformat.NotebookNode]) -> None:
    for cell in cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{cell.source[:60]!r}: {out.get('evalue')}"
            # stderr may carry notices (matplotlib's first font cache build), never an error
            if out.get("name") == "stderr":
                assert "Error" not in out.text and "Traceback" not in out.text, out.text


@pytest.mark.parametrize("name", ["raw", "marts"])
def test_notebooks_are_kept_without_outputs_and_use_the_venv_kernel(name):
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "from clicklake.notebooks import connect" in code[0].source
    assert any("%load_ext sql" in c.source and "%matplotlib inline" in c.source for c in code)


def test_the_raw_notebook_shows_every_stream_reconciled_and_charts_events_per_hour(lake):
    env, con = lake
    cells = _run("raw", env, EXAMPLES)  # where `make notebook` starts the kernel
    _no_errors(cells)
    _no_noise(cells)
    text = "\n".join(_text(c) for c in cells)
    ledger = next(_text(c) for c in cells if "from ops.load_ledger" in c.source)
    for stream, loaded in con.execute(
        "select stream, sum(rows_loaded) from ops.load_ledger group by stream"
    ).fetchall():
        assert stream in ledger and str(loaded) in ledger
    assert "False" not in ledger  # every stream's rows_in = loaded + rejected
    events = con.execute("select count(*) from raw.browser_events").fetchone()[0]
    assert f"{events} raw browser events in {HOURS} hours" in text
    layers = _text(_cell(cells, "from duckdb_tables()"))
    assert "rejected_events" in layers  # a view, listed with the tables
    assert _has_image(cells)
    # a rejected line that is HTML is shown as its text, escaped, not rendered or stripped
    html = "".join(out.get("data", {}).get("text/html", "")
                   for out in _cell(cells, "from ops.rejected_rows").outputs)
    tagged = con.execute(
        "select min(line) from ops.rejected_rows where line like '%<body>%'").fetchone()[0]
    assert tagged and "<body>" not in html
    assert tagged.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html


def test_the_marts_notebook_totals_match_the_lake_and_charts_funnel_attribution_products(
    lake
):
    env, con = lake
    cells = _run("marts", env, EXAMPLES)
    _no_errors(cells)
    _no_noise(cells)
    text = "\n".join(_text(c) for c in cells)
    sessions, orders, revenue = con.execute(
        "select sum(sessions), sum(orders), sum(revenue) from mart.daily_kpis"
    ).fetchone()
    assert sessions > 0 and orders > 0
    assert f"total: {sessions} sessions, {orders} orders, revenue {float(revenue):.2f}" in text
    funnel = next(_text(c) for c in cells if "from mart.funnel_daily" in c.source)
    steps = [s for (s,) in con.execute(
        "select distinct step from mart.funnel_daily order by all").fetchall()]
    assert steps and all(step in funnel for step in steps)
    kpis = next(_text(c) for c in cells if "from mart.daily_kpis\norder" in c.source)
    assert "2024-03-01" in kpis
    for marker in ("from mart.funnel_daily", "from mart.attribution",
                   "from mart.product_performance_daily"):
        assert _has_image([_cell(cells, marker)]), f"no chart with {marker}"
    assert "€" in _text(_cell(cells, "from mart.attribution"))  # the dashboard's formats


def test_make_notebook_starts_jupyter_lab_on_the_notebook_folder():
    root = EXAMPLES.parents[1]
    done = subprocess.run(["make", "-n", "-o", ".venv/.installed", "notebook"], cwd=root,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "jupyter lab --ServerApp.root_dir=notebook" in done.stdout
    assert "PLOOMBER_STATS_ENABLED=false" in done.stdout
