"""One measurement per process: `python -m bench.tasks <task> '<json args>' <result.json>`.

`bench.run` starts each task in its own process so that the process's peak memory
(`os.wait4` rusage) belongs to that task alone, and so that nothing one task caches (DuckDB's
buffers, the page cache aside) speeds up the next. Every task times only its own work, not the
interpreter start-up or imports, and returns a JSON-able dict.
"""

from __future__ import annotations

import glob
import inspect
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from bench.profile import profiled
from clicklake.sources import format_of

# the benchmarks generate the tracker's files: its streams, as its source unit declares them
EVENT_STREAM = "browser_events"  # one line per event: the events of a run are its lines
STREAMS = format_of(EVENT_STREAM).streams


def _settings(home: str, source: str | None = None, landing: str | None = None,
              data: str | None = None):
    from clicklake.config import load_settings

    env = {"CLICKLAKE_HOME": home, "CLICKLAKE_ENV_FILE": "/nonexistent"}
    if data:
        env["CLICKLAKE_DATA_PATH"] = data
    if source:
        env["CLICKLAKE_SOURCE_URI"] = source
    if landing:
        env["CLICKLAKE_LANDING_URI"] = landing
    return load_settings(env)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _clone(template: str, home: str) -> str:
    """A private copy of a prepared lake's catalog; returns the data path to use with it.

    DuckLake keeps the data path in the catalog, so the copy shares the template's Parquet
    folder: a run only adds files there (named by UUID), the template's catalog never sees
    them, and nothing deletes files without `clicklake maintain`.
    """
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(template, home, ignore=shutil.ignore_patterns("lake"))
    return str(Path(template) / "lake")


def generate(a: dict) -> dict:
    """Write the sample shop's source files for the hours [start, start + hours)."""
    from clicklake.generate import generate as gen

    t0 = time.perf_counter()
    out = gen(Path(a["dest"]), _at(a["start"]), a["hours"], events_per_hour=a["events_per_hour"],
              seed=a.get("seed", 42), format=a.get("format", "tracker"))
    return {"seconds": time.perf_counter() - t0, "events": out["events"], "lines": out["lines"],
            "files": out["files"]}


def extract(a: dict) -> dict:
    """Land [start, end) of the source into a lake (the load benchmark's starting point)."""
    from clicklake import pipeline
    from clicklake.lake import connect

    s = _settings(a["home"], a["source"], a["landing"])
    con = connect(settings=s)
    t0 = time.perf_counter()
    done = pipeline.extract(con, s, _at(a["start"]), _at(a["end"]), "bench-extract")
    secs = time.perf_counter() - t0
    con.close()
    lines = {stream: res.lines_in for stream, (res, _) in done.items()}
    return {"seconds": secs, "lines": lines, "events": lines[EVENT_STREAM]}


def load(a: dict) -> dict:
    """ClickLake's load of every pending landed file (all streams, in parallel) into raw."""
    from clicklake import pipeline
    from clicklake.lake import connect

    data = _clone(a["template"], a["home"])
    s = _settings(a["home"], landing=a["landing"], data=data)
    con = connect(settings=s)
    t0, c0 = time.perf_counter(), time.process_time()
    done = pipeline.load(con, s, "bench-load")
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = {stream: res.rows_loaded for stream, (res, _) in done.items()}
    con.close()
    shutil.rmtree(a["home"], ignore_errors=True)
    return {"seconds": secs, "cpu_s": cpu, "rows": rows, "events": rows[EVENT_STREAM]}


def bare_copy(a: dict) -> dict:
    """The engine's own ceiling: bare DuckDB `COPY (SELECT * FROM read_json(...)) TO ...
    (FORMAT parquet, COMPRESSION zstd)`, one statement per stream, of the same files; with
    `unordered`, issue #16's copy: `preserve_insertion_order = false`, `(FORMAT parquet)`."""
    import duckdb

    out = Path(a["out"])
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    # issue #16's copy: rows in any order, Parquet with DuckDB's default codec (snappy)
    options = "format parquet" if a.get("unordered") else "format parquet, compression zstd"
    if a.get("unordered"):
        con.execute("set preserve_insertion_order = false")
    per: dict[str, float] = {}
    rows: dict[str, int] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for stream, pattern in a["files"].items():
        t1 = time.perf_counter()
        target = str(out / f"{stream}.parquet").replace("'", "''")
        rows[stream] = con.execute(
            f"copy (select * from read_json($files)) to '{target}' ({options})",
            {"files": pattern},
        ).fetchone()[0]
        per[stream] = time.perf_counter() - t1
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    con.close()
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": secs, "cpu_s": cpu, "per_stream": per, "rows": rows,
            "events": rows.get(a.get("event_stream", EVENT_STREAM))}


def _dlt_pipeline(dlt, name: str, work: Path):
    """A dlt pipeline into a DuckDB file of its own under `work`, dataset `raw`."""
    return dlt.pipeline(pipeline_name=name, pipelines_dir=str(work / "pipelines"),
                        destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
                        dataset_name="raw")


def _landed(landing: str) -> dict[str, list[str]]:
    return {s: sorted(glob.glob(f"{landing}/{s}/**/*.jsonl", recursive=True)) for s in STREAMS}


def pandas_copy(a: dict) -> dict:
    """What a user might write with pandas: `read_json(lines=True)` → Parquet (zstd), per file;
    with `engine` "pyarrow", pandas' fast reader (`read_json(lines=True, engine="pyarrow")`)."""
    import pandas as pd

    engine = {"engine": a["engine"]} if a.get("engine") else {}

    def copy(path: str, target: Path) -> int:
        df = pd.read_json(path, lines=True, **engine)
        df.to_parquet(target, compression="zstd")
        return len(df)

    return _copy_each(a, copy)


def _copy_each(a: dict, copy) -> dict:
    """Time `copy(landed file, parquet target) -> rows` over every landed file, per stream."""
    out = Path(a["out"])
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for stream, paths in _landed(a["landing"]).items():
        rows[stream] = sum(copy(path, out / f"{stream}-{i}.parquet")
                           for i, path in enumerate(paths))
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": secs, "cpu_s": cpu, "rows": rows, "events": rows[EVENT_STREAM]}


def dlt_load(a: dict) -> dict:
    """What a user might write with dlt: one resource per stream yielding the landed lines as
    dicts, `pipeline.run` into DuckDB with dlt's defaults (schema inference, normalize, load).

    dlt is slow enough that `fraction` < 1 loads only the first part of each file; compare its
    events per second, not its seconds."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    from dlt.common import json as dlt_json

    work = Path(a["out"])
    work.mkdir(parents=True, exist_ok=True)

    fraction = a.get("fraction", 1.0)

    def lines(paths: list[str]):
        for path in paths:
            with open(path, encoding="utf-8") as f:
                limit = round(sum(1 for _ in f) * fraction)
                f.seek(0)
                batch = []
                for n, line in enumerate(f):
                    if n == limit:
                        break
                    if line.strip():
                        batch.append(dlt_json.loads(line))
                        if len(batch) == 10_000:
                            yield batch
                            batch = []
                if batch:
                    yield batch

    resources = [
        dlt.resource(lines(paths), name=stream, write_disposition="append")
        for stream, paths in _landed(a["landing"]).items()
    ]
    pipe = _dlt_pipeline(dlt, "clicklake_bench", work)
    t0 = time.perf_counter()
    pipe.run(resources)
    secs = time.perf_counter() - t0
    with pipe.sql_client() as client:
        rows = {s: client.execute_sql(f"select count(*) from {s}")[0][0] for s in STREAMS}
    shutil.rmtree(work, ignore_errors=True)
    return {"seconds": secs, "rows": rows, "events": rows[EVENT_STREAM],
            "loader_file_format": pipe.destination.capabilities().preferred_loader_file_format}


def pyarrow_copy(a: dict) -> dict:
    """pyarrow alone: `pyarrow.json.read_json` of each landed file → `pyarrow.parquet`
    (zstd), the reader dlt's and pandas' fast paths are built on."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    def copy(path: str, target: Path) -> int:
        table = pj.read_json(path)
        pq.write_table(table, target, compression="zstd")
        return table.num_rows

    return _copy_each(a, copy)


def dlt_arrow(a: dict) -> dict:
    """dlt on its fastest documented path: each landed file read by `pyarrow.json.read_json`
    into an Arrow table, yielded by one resource per stream, `pipeline.run(...,
    loader_file_format="parquet")` into DuckDB (Arrow tables skip dlt's row normalizer)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    import pyarrow.json as pj

    work = Path(a["out"])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)

    def tables(paths: list[str]):
        for path in paths:
            yield pj.read_json(path)

    resources = [
        dlt.resource(tables(paths), name=stream, write_disposition="append")
        for stream, paths in _landed(a["landing"]).items()
    ]
    pipe = _dlt_pipeline(dlt, "clicklake_bench_arrow", work)
    t0, c0 = time.perf_counter(), time.process_time()
    pipe.run(resources, loader_file_format="parquet")
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    with pipe.sql_client() as client:
        rows = {s: client.execute_sql(f"select count(*) from {s}")[0][0] for s in STREAMS}
    shutil.rmtree(work, ignore_errors=True)
    return {"seconds": secs, "cpu_s": cpu, "rows": rows, "events": rows[EVENT_STREAM],
            "loader_file_format": "parquet"}


def _steps(run: Callable[[Callable], object]) -> tuple[float, list[dict]]:
    """Run `run(on_step)`; return its wall seconds and the steps it reported, the last one
    holding the process's peak memory (MiB) when each kind of step was last reported."""
    import resource

    steps: list[dict] = []
    peaks: dict[str, float] = {}

    def on_step(step) -> None:
        peaks[step.step] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        steps.append({"step": step.step, "target": step.target, "rows": step.rows,
                      "seconds": step.seconds})

    t0 = time.perf_counter()
    run(on_step)
    total = time.perf_counter() - t0
    steps.append({"step": "peak_mib_by_phase", "target": "", "rows": 0, "seconds": 0.0,
                  "peaks": peaks})
    return total, steps


def hour(a: dict) -> dict:
    """One hour through the whole pipeline (`clicklake run` per hour: pipeline.run_hour)."""
    from clicklake import pipeline
    from clicklake.lake import connect

    data = None
    if a.get("template"):
        data = _clone(a["template"], a["home"])
    else:
        shutil.rmtree(a["home"], ignore_errors=True)
    s = _settings(a["home"], a["source"], a["landing"], data)
    con = connect(settings=s)
    summary = {}

    def run(on_step):
        summary["s"], summary["rows"], _, summary["cpu"] = profiled(
            lambda: pipeline.run_hour(con, s, _at(a["hour"]), on_step=on_step))

    total, steps = _steps(run)
    con.close()
    events = summary["s"].loaded[a.get("event_stream", EVENT_STREAM)].rows_loaded
    shutil.rmtree(a["home"], ignore_errors=True)
    prof = _profile(summary["rows"], total, summary["cpu"])
    # the phases as the profile splits them (wall s): every model, check and ops write in its
    # own phase, whenever it ran
    phases = {k: v["wall_s"] for k, v in prof["phases"].items()}
    return {"seconds": total, "cpu_s": summary["cpu"], "phases": phases, "steps": steps,
            "events": events, "profile": prof}


def _profile(rows: list[dict], wall: float, cpu: float) -> dict:
    """A profile's rows with their sums per phase (`bench.profile.phase_of`)."""
    from bench.profile import phase_of

    phases: dict[str, dict[str, float]] = {}
    for r in rows:
        p = phases.setdefault(phase_of(r["name"]), {"wall_s": 0.0, "cpu_s": 0.0})
        p["wall_s"] += r["wall_s"]
        p["cpu_s"] += r["cpu_s"]
    return {"seconds": wall, "cpu_s": cpu, "rows": rows, "phases": phases}


def leads(a: dict) -> dict:
    """One hour through `pipeline.run_hour` on a fresh lake, then issue #16's leads measured
    on that lake (`_leads`)."""
    from clicklake import pipeline
    from clicklake.lake import connect

    shutil.rmtree(a["home"], ignore_errors=True)
    s = _settings(a["home"], a["source"], a["landing"])
    con = connect(settings=s)
    pipeline.run_hour(con, s, _at(a["hour"]))
    out = {"leads": _leads(con, a["landing"], a.get("reps", 3))}
    con.close()
    shutil.rmtree(a["home"], ignore_errors=True)
    return out


def _cost(con, sql: str, params: dict | None = None) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    con.execute(sql, params or {}).fetchall()
    return time.perf_counter() - w0, time.process_time() - c0


def _leads(con, landing: str, reps: int) -> dict:
    """Issue #16's leads, each timed `reps` times interleaved (medians of wall and CPU s):
    writing the browser rows with and without the lineage columns (and with a small file id
    in their place), the extract's validating parse of the browser file, the dedupe group-bys
    of `stage.events`, and the stage checks' passes (those are in the profile rows); and two
    floors: the load's work as a bare copy of the landed files, and stage.events' write alone."""
    from clicklake.lake import literal
    from clicklake.load import LINEAGE, PARQUET

    tmp = Path(landing).parent / "leads"
    tmp.mkdir(parents=True, exist_ok=True)
    names = [c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_catalog = 'lake' "
        "and table_schema = 'raw' and table_name = 'browser_events' order by ordinal_position"
    ).fetchall()]
    contract = ", ".join(c for c in names if c not in LINEAGE)
    target = literal(str(tmp / "out.parquet"))
    browser = sorted(glob.glob(f"{landing}/{EVENT_STREAM}/**/*.jsonl", recursive=True))
    from clicklake.extract import _IS_OBJECT, lines_options

    tests = {
        "write browser rows: contract columns + 6 lineage columns (as loaded)":
            f"copy (select * from raw.browser_events) to {target} (format parquet, {PARQUET})",
        "write browser rows: contract columns only":
            f"copy (select {contract} from raw.browser_events) to {target} "
            f"(format parquet, {PARQUET})",
        "write browser rows: contract columns + _line_no + a file id (int)":
            f"copy (select {contract}, _line_no, 1::integer as _file_id "
            f"from raw.browser_events) to {target} (format parquet, {PARQUET})",
        "extract: validating parse of the browser file (json_valid per line)":
            f"select count(*), count(*) filter (where {_IS_OBJECT}) from read_csv("
            f"{literal(browser[0]) if browser else 'NULL'}, columns = {{'line': 'VARCHAR'}}, "
            f"{lines_options()})",
        "stage.events dedupe: the four group-bys finding keys with copies":
            "select (select count(*) from (select event_id from raw.browser_events group by "
            "event_id having count(*) > 1)), (select count(*) from (select event_id from "
            "raw.location_events group by event_id having count(*) > 1)), (select count(*) from "
            "(select click_id from raw.device_events group by click_id having count(*) > 1)), "
            "(select count(*) from (select click_id from raw.geo_events group by click_id "
            "having count(*) > 1))",
    }
    # the floors: what the load and stage.events would cost at the engine's own speed, the
    # same rows with none of their work (contract, rejects, lineage; dedupe, joins)
    copies = [f"copy (select * from read_json({literal(f'{landing}/{s}/**/*.jsonl')})) to "
              f"{literal(str(tmp / f'{s}.parquet'))} (format parquet, {PARQUET})"
              for s in STREAMS if glob.glob(f"{landing}/{s}/**/*.jsonl", recursive=True)]
    tests |= {
        "the load's floor: bare DuckDB copy of the hour's landed files to Parquet (every stream)":
            "; ".join(copies),
        "stage.events' floor: writing its rows to Parquet alone (no dedupe, no joins)":
            f"copy (select * from stage.events) to {target} (format parquet)",
    }
    if not browser:
        tests.pop("extract: validating parse of the browser file (json_valid per line)")
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in tests}
    for _ in range(reps):
        for name, sql in tests.items():
            runs[name].append(_cost(con, sql))
    shutil.rmtree(tmp, ignore_errors=True)
    return {k: {"wall_s": statistics.median(w for w, _ in v),
                "cpu_s": statistics.median(c for _, c in v)} for k, v in runs.items()}


def _folder_mib(path: Path) -> float:
    """The size of the files under `path` (0 if it is not there), as it changes."""
    total = 0
    try:
        for p in path.rglob("*"):
            try:
                total += p.stat().st_size if p.is_file() else 0
            except OSError:  # a spill file removed while we looked
                pass
    except OSError:  # the folder itself is not there (yet)
        pass
    return total / 2**20


class CliFailed(RuntimeError):
    """A `clicklake` command exited with an error; the message is its last line of output."""


def _cli(argv: list[str], env: dict, spill: Path) -> tuple[float, float, int, float]:
    """Run a `clicklake` command; return its wall seconds, its CPU seconds (user and system,
    start-up included), its lines of output (stdout and stderr) and the largest size its
    spill folder reached (sampled every 0.2 s). Raises CliFailed if it fails."""
    import resource
    import subprocess
    import threading

    biggest = [0.0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            biggest[0] = max(biggest[0], _folder_mib(spill))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    def children_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    t0, c0 = time.perf_counter(), children_cpu()
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    secs, cpu = time.perf_counter() - t0, children_cpu() - c0
    stop.set()
    watcher.join()
    if done.returncode != 0:
        sys.stdout.write(done.stdout)
        last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise CliFailed(f"{' '.join(argv[1:])} failed (exit {done.returncode}) after "
                        f"{secs:.0f} s, largest spill {biggest[0]:,.0f} MiB: {last}")
    return secs, cpu, len(done.stdout.splitlines()), biggest[0]


def hour_cli(a: dict) -> dict:
    """The same hour as a user runs it: `clicklake run --start H --end H+1` in its own process,
    timed by the wall clock from start-up to exit, on a fresh lake, with the shipped
    `CLICKLAKE_MEMORY_LIMIT`. With `empty_hours` N, then `clicklake run` of the N hours after
    it, which have nothing new (seconds and lines of output)."""
    import resource
    from datetime import timedelta

    home = Path(a["home"])
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent",
           "CLICKLAKE_SOURCE_URI": a["source"], "CLICKLAKE_LANDING_URI": a["landing"],
           "COLUMNS": "120"}
    start = _at(a["hour"])
    exe = str(Path(sys.executable).with_name("clicklake"))

    def argv(lo: datetime, hi: datetime) -> list[str]:
        return [exe, "run", "--start", f"{lo:%Y-%m-%dT%H}", "--end", f"{hi:%Y-%m-%dT%H}"]

    try:
        secs, cpu, lines, spill = _cli(argv(start, start + timedelta(hours=1)), env,
                                       home / "tmp")
    except CliFailed as exc:
        if not a.get("may_fail"):
            raise
        shutil.rmtree(home, ignore_errors=True)
        return {"failed": str(exc), "seconds": None,
                "cli_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    out = {"seconds": secs, "cpu_s": cpu, "lines": lines, "spill_mib": spill,
           "cli_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    if a.get("empty_hours"):
        lo = start + timedelta(hours=1)
        e_secs, e_cpu, e_lines, _ = _cli(argv(lo, lo + timedelta(hours=a["empty_hours"])),
                                         env, home / "tmp")
        out["empty"] = {"seconds": e_secs, "cpu_s": e_cpu, "lines": e_lines,
                        "hours": a["empty_hours"]}
    shutil.rmtree(home, ignore_errors=True)
    return out


def _build_full(con, s, run_id: str, end: datetime):
    from clicklake import pipeline

    if "run_end" in inspect.signature(pipeline.build).parameters:
        return pipeline.build(con, s, run_id, end, full=True)
    return pipeline.build(con, s, run_id, full=True)


def history(a: dict) -> dict:
    """Build a lake of [start, end): extract and load it in one call each, one full build, then
    the file compaction the daily `lake_maintenance` job does, as a lake in service has it."""
    from clicklake import maintain, pipeline
    from clicklake.lake import connect

    shutil.rmtree(a["home"], ignore_errors=True)
    s = _settings(a["home"], a["source"], a["landing"])
    con = connect(settings=s)
    start, end = _at(a["start"]), _at(a["end"])
    import resource

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t0 = time.perf_counter()
    done = pipeline.extract(con, s, start, end, "bench-history")
    t1, p1 = time.perf_counter(), peak()
    pipeline.load(con, s, "bench-history")
    t2, p2 = time.perf_counter(), peak()
    _build_full(con, s, "bench-history", end)
    t3 = time.perf_counter()
    maintain.compact(con)
    t4 = time.perf_counter()
    days = con.execute("select count(*) from mart.daily_kpis").fetchone()[0]
    con.close()
    return {"extract": t1 - t0, "load": t2 - t1, "build": t3 - t2, "compact": t4 - t3,
            "seconds": t4 - t0,
            "events": done[EVENT_STREAM][0].lines_in, "days": days,
            "peak_mib_after": {"extract": p1, "load": p2, "build": peak()}}


# dashboard-style queries over the marts of the contract; $start/$end bound per run
QUERIES = {
    "kpi_trend": ("mart.daily_kpis", """
        select date, sessions, visitors, orders, revenue, conversion_rate, avg_order_value,
               bounce_rate
        from mart.daily_kpis where date between $start and $end order by date"""),
    "kpi_totals": ("mart.daily_kpis", """
        select sum(sessions), sum(orders), sum(revenue), sum(orders) / nullif(sum(sessions), 0)
        from mart.daily_kpis where date between $start and $end"""),
    "traffic_by_hour_source_7d": ("mart.hourly_traffic", """
        select hour, utm_source, sum(sessions), sum(orders), sum(revenue)
        from mart.hourly_traffic where date between $end - 6 and $end
        group by all order by all"""),
    "traffic_by_device_country": ("mart.hourly_traffic", """
        select device_type, geo_country, sum(sessions), sum(bounces), sum(orders), sum(revenue)
        from mart.hourly_traffic where date between $start and $end
        group by all order by 3 desc limit 50"""),
    "acquisition": ("mart.acquisition_daily", """
        select utm_source, utm_medium, utm_campaign, sum(sessions) as sessions, sum(orders),
               sum(revenue), sum(orders) / nullif(sum(sessions), 0)
        from mart.acquisition_daily where date between $start and $end
        group by all order by sessions desc"""),
    "funnel": ("mart.funnel_daily", """
        select step, step_order, sum(sessions)
        from mart.funnel_daily where date between $start and $end
        group by all order by step_order"""),
    "attribution": ("mart.attribution", """
        select model, utm_source, sum(orders), sum(revenue)
        from mart.attribution where date between $start and $end group by all order by all"""),
    "top_products": ("mart.product_performance_daily", """
        select product_name, category, sum(units), sum(revenue) as revenue
        from mart.product_performance_daily where date between $start and $end
        group by all order by revenue desc limit 10"""),
    "audience_countries": ("mart.audience_daily", """
        select geo_country, sum(sessions) as sessions, sum(orders), sum(revenue)
        from mart.audience_daily where date between $start and $end
        group by all order by sessions desc"""),
    "top_pages": ("mart.pages_daily", """
        select page_path, sum(pageviews) as pageviews, sum(exits) / nullif(sum(pageviews), 0)
        from mart.pages_daily where date between $start and $end
        group by all order by pageviews desc limit 20"""),
    "session_paths": ("mart.session_paths", """
        select path, converted, sum(sessions) as sessions
        from mart.session_paths where date between $start and $end
        group by all order by sessions desc limit 20"""),
    "cohorts": ("mart.cohort_retention_weekly", """
        select cohort_week, week_number, retention from mart.cohort_retention_weekly
        order by all"""),
}


def dashboard(a: dict) -> dict:
    """Time dashboard-style queries over the marts (read-only, as the dashboard opens them)."""
    from clicklake.lake import connect

    s = _settings(a["home"], landing=a["landing"])
    t0 = time.perf_counter()
    con = connect(read_only=True, settings=s)
    connect_s = time.perf_counter() - t0
    have = {f"{sch}.{t}" for sch, t in con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'lake'"
    ).fetchall()}
    first, last = con.execute("select min(date), max(date) from mart.daily_kpis").fetchone()
    params = {"start": first, "end": last}
    queries = {n: sql for n, (table, sql) in QUERIES.items() if table in have}
    missing = sorted(n for n, (table, _) in QUERIES.items() if table not in have)
    queries.update(_dashboard_sql(params, have))
    # the pages' queries that take more than dates: the "As of" list and "What changed" on the
    # newest day, through the functions the pages call
    from clicklake import dashboard as db

    calls = {"dashboard: as_of_snapshots": lambda: db.as_of_snapshots(con),
             "dashboard: restated_days": lambda: db.restated_days(con),
             "dashboard: day_history": lambda: db.day_history(con, last, s.timezone)}

    def run_one(name: str) -> None:
        if name in calls:
            calls[name]()
            return
        sql = queries[name]
        con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchall()

    names = [*queries, *(calls if "mart.daily_kpis" in have else ())]
    timings: dict[str, list[float]] = {}
    cold: dict[str, float] = {}
    for name in names:
        t1 = time.perf_counter()
        run_one(name)
        cold[name] = time.perf_counter() - t1
    for _ in range(a["reps"]):
        for name in names:
            t1 = time.perf_counter()
            run_one(name)
            timings.setdefault(name, []).append(time.perf_counter() - t1)
    con.close()
    every = sorted(x for v in timings.values() for x in v)
    return {
        "connect_s": connect_s,
        "days": (last - first).days + 1 if isinstance(first, date) else None,
        "missing_marts": missing,
        "cold_s": cold,
        "per_query": {n: {"p50": _pct(sorted(v), 50), "p95": _pct(sorted(v), 95)}
                      for n, v in timings.items()},
        "p50": _pct(every, 50),
        "p95": _pct(every, 95),
        "max": every[-1] if every else None,
        "runs": len(every),
    }


def _dashboard_sql(params: dict, have: set[str]) -> dict[str, str]:
    """The dashboard's own queries (sql/dashboard.sql) whose parameters we can fill: dates, and
    an empty list (meaning "all") for every list filter."""
    import re

    from clicklake.lake import SQL_DIR

    path = SQL_DIR / "dashboard.sql"
    if not path.is_file():
        return {}
    found: dict[str, str] = {}
    for part in re.split(r"^-- query: *", path.read_text(), flags=re.M)[1:]:
        name, _, sql = part.partition("\n")
        names = set(re.findall(r"\$([a-z_]+)", sql))
        lists = {n for n in names if f"${n}::varchar[]" in sql}
        if names - lists - set(params):
            continue
        tables = set(re.findall(r"\b(?:mart|stage)\.[a-z_]+", sql))
        if not tables <= have:
            continue
        for n in lists:
            sql = sql.replace(f"${n}::varchar[]", "[]::varchar[]")
        found[f"dashboard.sql:{name.strip()}"] = sql
    return found


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


TASKS = {f.__name__: f for f in (generate, extract, load, bare_copy, pandas_copy, pyarrow_copy,
                                 dlt_load, dlt_arrow, hour, hour_cli, leads, history,
                                 dashboard)}


def main(argv: list[str]) -> int:
    task, args, out = argv
    result = TASKS[task](json.loads(args))
    Path(out).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
