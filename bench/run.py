"""`make bench`: ClickLake's speed, measured side by side with the baselines in one run.

Generates data with the project's own generator, then measures on the same files:
(1) landing → raw load against bare DuckDB `COPY ... read_json ... TO parquet (zstd)`,
(2) pandas and dlt on the same landed files, (3) one hour of ~1M events through the whole
pipeline against bare DuckDB on that hour's source files, (4) one new hour on top of 1 day and
of 30 days of history, (5) dashboard-style queries over 30 days of marts, (6) a GA4 export day
of ~1M events through load, stage and marts against a bare DuckDB copy of its file, (7) the
peak memory of each. Every measurement runs in its own process, repetitions interleave the
contenders so that a busy neighbour slows them alike, and figures are medians; ratios compare
medians measured in this run. Writes BENCHMARKS.md (between its markers) and the chart.

    python -m bench.run              # default sizes (2M events, 1M-event hour, 30 days)
    python -m bench.run --quick      # small sizes, for development
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import report
from bench.tasks import STREAMS
from clicklake.config import Settings

ROOT = Path(__file__).resolve().parents[1]
# Hours where the generator's daily rhythm is near its mean, so events_per_hour ≈ events.
DAY = datetime(2024, 3, 1, tzinfo=UTC)
LOAD_START = DAY + timedelta(hours=9)
HOUR = DAY + timedelta(hours=9)
# GA4 writes about 1.67 rows per event of the simulated shop (a product page is a page_view and
# an add_to_cart; visits add session_start, first_visit, user_engagement): measured on a day
GA4_ROWS_PER_EVENT = 1.67


# the load's contenders, ClickLake first; pandas and dlt are their slow defaults (--slow-tools)
LOAD_CONTENDERS = ("clicklake", "duckdb", "pyarrow", "pandas_pyarrow", "dlt_arrow", "pandas",
                   "dlt")


class BenchError(RuntimeError):
    """A benchmark task failed; its own output above says why."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes for development")
    p.add_argument("--events", type=int, help="events for the load comparison (default 2M; "
                   "env CLICKLAKE_BENCH_EVENTS)")
    p.add_argument("--hour-events", type=int, help="events in the one-hour pipeline run "
                   "(default 1M; env CLICKLAKE_BENCH_HOUR_EVENTS)")
    p.add_argument("--history-days", type=int, default=30)
    p.add_argument("--day-rate", type=int, help="events per hour of the full day whose last "
                   "hour section 3e runs (default 100000; quick 5000; env "
                   "CLICKLAKE_BENCH_DAY_RATE)")
    p.add_argument("--history-rate", type=int, help="events per hour of history (default "
                   "5000; env CLICKLAKE_BENCH_HISTORY_RATE)")
    p.add_argument("--reps", type=int, help="repetitions (default 3; quick 2)")
    p.add_argument("--slow-reps", type=int, help="repetitions of pandas and dlt (default 2)")
    p.add_argument("--query-reps", type=int, default=20, help="runs of each dashboard query")
    p.add_argument("--dlt-events", type=int, help="events dlt loads (a part of each file; "
                   "default 200k, quick 20k): it is far slower than the rest")
    p.add_argument("--ga4-events", type=int, help="events in the GA4 export day (default 1M; "
                   "env CLICKLAKE_BENCH_GA4_EVENTS)")
    p.add_argument("--only", default="load,tools,hour,ga4,day,history,dashboard",
                   help="comma list of sections to run (also: scale)")
    p.add_argument("--slow-tools", action="store_true", help="also pandas' default reader and "
                   "dlt with its default loader (insert_values): minutes, not in the default run")
    p.add_argument("--scale", action="store_true", help="also the 10M-event hour (about 10 "
                   "min; `make bench-scale` runs it alone)")
    p.add_argument("--scale-events", type=int, help="events in the scale hour (default 10M, "
                   "quick 500k; env CLICKLAKE_BENCH_SCALE_EVENTS)")
    p.add_argument("--merge", action="store_true", help="keep the sections of the last "
                   "results (--results) that this run does not measure, and report them all")
    p.add_argument("--empty-hours", type=int, default=24,
                   help="hours with nothing new run after the hour with `clicklake run`")
    p.add_argument("--workdir", help="where data goes (default: a new folder in $TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--out", help="default BENCHMARKS.md (--quick: test-artifacts/)")
    p.add_argument("--chart", help="default bench/benchmarks.png (--quick: test-artifacts/)")
    p.add_argument("--results", help="the raw figures as JSON (default "
                   "test-artifacts/bench-results.json; --quick: bench-results-quick.json)")
    a = p.parse_args(argv)
    quick = a.quick
    a.events = a.events or _env_int("CLICKLAKE_BENCH_EVENTS", 100_000 if quick else 2_000_000)
    a.hour_events = a.hour_events or _env_int(
        "CLICKLAKE_BENCH_HOUR_EVENTS", 50_000 if quick else 1_000_000)
    a.ga4_events = a.ga4_events or _env_int(
        "CLICKLAKE_BENCH_GA4_EVENTS", 50_000 if quick else 1_000_000)
    a.day_rate = a.day_rate or _env_int("CLICKLAKE_BENCH_DAY_RATE", 5_000 if quick else 100_000)
    a.history_rate = a.history_rate or _env_int(
        "CLICKLAKE_BENCH_HISTORY_RATE", 300 if quick else 5_000)
    a.scale_events = a.scale_events or _env_int(
        "CLICKLAKE_BENCH_SCALE_EVENTS", 500_000 if quick else 10_000_000)
    if a.scale:
        a.only += ",scale"
    a.reps = a.reps or (2 if quick else 3)
    a.slow_reps = a.slow_reps or (1 if quick else 2)
    # a quick run must not replace the committed figures of a full one
    artifacts = ROOT / "test-artifacts"
    a.out = a.out or str(artifacts / "BENCHMARKS-quick.md" if quick else ROOT / "BENCHMARKS.md")
    a.chart = a.chart or str(artifacts / "benchmarks-quick.png" if quick
                             else ROOT / "bench" / "benchmarks.png")
    a.results = a.results or str(artifacts / ("bench-results-quick.json" if quick
                                              else "bench-results.json"))
    a.dlt_events = a.dlt_events or (20_000 if quick else 200_000)
    return a


class Runner:
    """Starts each task in its own process and keeps its result and peak memory."""

    def __init__(self, work: Path):
        self.work = work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")}
        self.env["PYTHONPATH"] = str(ROOT)

    def __call__(self, task: str, **args) -> dict:
        fd, out = tempfile.mkstemp(prefix=f"{task}-", suffix=".json", dir=self.work)
        os.close(fd)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.tasks", task, json.dumps(args), out],
            cwd=ROOT, env=self.env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise BenchError(f"task {task} failed (exit {proc.returncode})")
        result = json.loads(Path(out).read_text())
        os.unlink(out)
        result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
        return result


def _say(text: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {text}", flush=True)


def _median(runs: list[dict], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in runs)


def _summary(runs: list[dict]) -> dict:
    out = {
        "median_s": _median(runs),
        "runs_s": [r["seconds"] for r in runs],
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "events": runs[0].get("events"),
    }
    if all("cpu_s" in r for r in runs):  # CPU seconds: less swayed by a busy neighbour
        out["median_cpu_s"] = _median(runs, "cpu_s")
    return out


def _cpu_ratio(ours: dict, theirs: dict) -> float | None:
    if "median_cpu_s" in ours and "median_cpu_s" in theirs and theirs["median_cpu_s"]:
        return ours["median_cpu_s"] / theirs["median_cpu_s"]
    return None


def _rate_for(events: int, hours: list[int]) -> int:
    """events_per_hour that makes the generator write about `events` over these UTC hours (the
    generator's rate is the mean over the hours it writes)."""
    return round(events / len(hours))


def bench_load(run: Runner, a, work: Path, res: dict, tools: bool) -> None:
    data = work / "load"
    hours = 2
    _say(f"load: generating ~{a.events:,} events")
    gen = run("generate", dest=str(data / "source"), start=LOAD_START.isoformat(), hours=hours,
              events_per_hour=_rate_for(a.events, [LOAD_START.hour + i for i in range(hours)]))
    _say(f"load: generated {gen['events']:,} events in {gen['seconds']:.1f}s; extracting")
    ext = run("extract", home=str(data / "template"), source=str(data / "source"),
              landing=str(data / "landing"), start=LOAD_START.isoformat(),
              end=(LOAD_START + timedelta(hours=hours)).isoformat())
    landing = str(data / "landing")
    files = {s: f"{landing}/{s}/**/*.jsonl" for s in STREAMS}
    res["load"] = {"generated": gen, "extract": {k: ext[k] for k in ("seconds", "lines",
                                                                     "peak_rss_mib")},
                   "events": ext["events"],
                   "landing_mib": _size(data / "landing") / 2**20}
    runs: dict[str, list[dict]] = {name: [] for name in LOAD_CONTENDERS}
    for i in range(a.reps):
        _say(f"load: repetition {i + 1}/{a.reps}")
        runs["clicklake"].append(run("load", template=str(data / "template"),
                                     home=str(data / "rep"), landing=landing))
        runs["duckdb"].append(run("bare_copy", files=files, out=str(data / "bare")))
        if tools:  # the fast paths of each tool, interleaved with ours
            runs["pyarrow"].append(run("pyarrow_copy", landing=landing, out=str(data / "pa")))
            runs["pandas_pyarrow"].append(run("pandas_copy", landing=landing,
                                              out=str(data / "pandas"), engine="pyarrow"))
            runs["dlt_arrow"].append(run("dlt_arrow", landing=landing, out=str(data / "dlt")))
        if tools and a.slow_tools and i < a.slow_reps:
            _say("load: pandas")
            runs["pandas"].append(run("pandas_copy", landing=landing, out=str(data / "pandas")))
            fraction = min(1.0, a.dlt_events / res["load"]["events"])
            _say(f"load: dlt ({fraction:.0%} of each file)")
            runs["dlt"].append(run("dlt_load", landing=landing, out=str(data / "dlt"),
                                   fraction=fraction))
    for name, rs in runs.items():
        if not rs:
            continue
        s = _summary(rs)
        s["events_per_s"] = s["events"] / s["median_s"]
        s["rows"] = rs[0].get("rows")
        if name == "dlt":
            s["loader_file_format"] = rs[0].get("loader_file_format")
        res["load"][name] = s
    # by events per second: dlt may have loaded only part of the files
    ours = res["load"]["clicklake"]["events_per_s"]
    res["load"]["ratios"] = {
        f"vs_{name}": ours / res["load"][name]["events_per_s"]
        for name in LOAD_CONTENDERS[1:] if name in res["load"]
    }
    # their CPU seconds over ours (>= 1: ours costs less), same events on both sides
    res["load"]["cpu_ratios"] = {
        f"vs_{name}": 1 / r
        for name in LOAD_CONTENDERS[1:] if name in res["load"] and res["load"][name][
            "events"] == res["load"]["events"]
        and (r := _cpu_ratio(res["load"]["clicklake"], res["load"][name]))
    }


def bench_hour(run: Runner, a, work: Path, res: dict) -> None:
    data = work / "hour"
    _say(f"hour: generating one hour of ~{a.hour_events:,} events")
    gen = run("generate", dest=str(data / "source"), start=HOUR.isoformat(), hours=1,
              events_per_hour=_rate_for(a.hour_events, [HOUR.hour]))
    src = str(data / "source")
    files = {s: f"{src}/{s}/**/*.jsonl.gz" for s in STREAMS}
    runs: dict[str, list[dict]] = {"clicklake": [], "duckdb": [], "unordered": [], "cli": []}
    for i in range(a.reps):
        _say(f"hour: repetition {i + 1}/{a.reps} ({gen['events']:,} events)")
        runs["clicklake"].append(run("hour", home=str(data / "rep"), source=src,
                                     landing=str(data / "landing"), hour=HOUR.isoformat()))
        runs["duckdb"].append(run("bare_copy", files=files, out=str(data / "bare")))
        runs["unordered"].append(run("bare_copy", files=files, out=str(data / "bare"),
                                     unordered=True))
        runs["cli"].append(run("hour_cli", home=str(data / "rep"), source=src,
                               landing=str(data / "landing"), hour=HOUR.isoformat(),
                               empty_hours=a.empty_hours))
    res["hour"] = {"generated": gen, "events": runs["clicklake"][0]["events"],
                   "source_mib": _size(data / "source") / 2**20}
    for name, rs in runs.items():
        res["hour"][name] = _summary(rs)
    res["hour"]["clicklake"]["phases"] = {
        k: statistics.median(r["phases"].get(k, 0.0) for r in runs["clicklake"])
        for k in runs["clicklake"][0]["phases"]
    }
    res["hour"]["clicklake"]["steps"] = runs["clicklake"][-1]["steps"]
    res["hour"]["ratio"] = res["hour"]["clicklake"]["median_s"] / res["hour"]["duckdb"]["median_s"]
    cli, bare = res["hour"]["cli"], res["hour"]["duckdb"]["median_s"]
    cli["peak_rss_mib"] = max(r["cli_peak_mib"] for r in runs["cli"])
    cli["spill_mib"] = max(r["spill_mib"] for r in runs["cli"])
    cli["lines"] = runs["cli"][-1]["lines"]
    res["hour"]["cli_ratio"] = cli["median_s"] / bare
    unordered = res["hour"]["unordered"]["median_s"]
    res["hour"]["cli_ratio_unordered"] = cli["median_s"] / unordered
    res["hour"]["cli_cpu_ratio_unordered"] = _cpu_ratio(cli, res["hour"]["unordered"])
    res["hour"]["ratio_unordered"] = res["hour"]["clicklake"]["median_s"] / unordered
    empty = [r["empty"] for r in runs["cli"] if "empty" in r]
    if empty:
        res["empty"] = {"hours": empty[0]["hours"], "median_s": _median(empty),
                        "runs_s": [e["seconds"] for e in empty],
                        "lines": max(e["lines"] for e in empty)}
    res["profile"] = _median_profile([r["profile"] for r in runs["clicklake"]])
    res["profile"]["events"] = res["hour"]["events"]
    res["profile"]["reps"] = len(runs["clicklake"])
    _say("hour: issue #16's leads, measured alone")
    res["profile"]["leads"] = run("leads", home=str(data / "rep"), source=src,
                                  landing=str(data / "landing"), hour=HOUR.isoformat(),
                                  reps=a.reps)["leads"]


def _median_profile(profiles: list[dict]) -> dict:
    """The medians, row by row and phase by phase, of the hour's profiles (`bench.profile`)."""
    def med(values) -> float:
        return statistics.median(list(values) or [0.0])

    names = {r["name"]: r["calls"] for p in profiles for r in p["rows"]}
    by_name = [{r["name"]: r for r in p["rows"]} for p in profiles]
    zero = {"wall_s": 0.0, "cpu_s": 0.0}
    return {
        "seconds": med(p["seconds"] for p in profiles),
        "cpu_s": med(p["cpu_s"] for p in profiles),
        "rows": [{"name": n, "calls": calls,
                  "wall_s": med(b.get(n, zero)["wall_s"] for b in by_name),
                  "cpu_s": med(b.get(n, zero)["cpu_s"] for b in by_name)}
                 for n, calls in names.items()],
        "phases": {k: {"wall_s": med(p["phases"].get(k, zero)["wall_s"] for p in profiles),
                       "cpu_s": med(p["phases"].get(k, zero)["cpu_s"] for p in profiles)}
                   for k in profiles[0]["phases"]},
    }


def bench_ga4(run: Runner, a, work: Path, res: dict) -> None:
    """A GA4 export day of ~1M events (one daily file, read by the day's first hour) through
    extract, load, stage and marts, against a bare DuckDB copy of the same file."""
    data = work / "ga4"
    _say(f"ga4: generating a GA4 export day of ~{a.ga4_events:,} events")
    gen = run("generate", dest=str(data / "source"), start=DAY.isoformat(), hours=24,
              events_per_hour=round(a.ga4_events / 24 / GA4_ROWS_PER_EVENT), format="ga4")
    src = str(data / "source")
    files = {"ga4_events": f"{src}/ga4_events/**/*.jsonl.gz"}
    runs: dict[str, list[dict]] = {"clicklake": [], "duckdb": [], "unordered": []}
    for i in range(a.reps):
        _say(f"ga4: repetition {i + 1}/{a.reps} ({gen['events']:,} events)")
        runs["clicklake"].append(run("hour", home=str(data / "rep"), source=src,
                                     landing=str(data / "landing"), hour=DAY.isoformat(),
                                     event_stream="ga4_events"))
        runs["duckdb"].append(run("bare_copy", files=files, out=str(data / "bare"),
                                  event_stream="ga4_events"))
        runs["unordered"].append(run("bare_copy", files=files, out=str(data / "bare"),
                                     event_stream="ga4_events", unordered=True))
    res["ga4"] = {"generated": gen, "events": runs["clicklake"][0]["events"],
                  "source_mib": _size(data / "source") / 2**20}
    for name, rs in runs.items():
        res["ga4"][name] = _summary(rs)
    ours = res["ga4"]["clicklake"]
    ours["phases"] = {k: statistics.median(r["phases"].get(k, 0.0) for r in runs["clicklake"])
                      for k in runs["clicklake"][0]["phases"]}
    bare = res["ga4"]["duckdb"]["median_s"]
    res["ga4"]["ratio"] = ours["median_s"] / bare
    res["ga4"]["load_ratio"] = bare / ours["phases"]["load"]  # >= 1: faster than the copy
    res["ga4"]["ratio_unordered"] = ours["median_s"] / res["ga4"]["unordered"]["median_s"]
    res["ga4"]["cpu_ratio_unordered"] = _cpu_ratio(ours, res["ga4"]["unordered"])


def bench_scale(run: Runner, a, work: Path, res: dict) -> None:
    """A 10M-event hour as a user runs it (`clicklake run`, the shipped
    `CLICKLAKE_MEMORY_LIMIT`), against issue #16's bare copy of its files: does it finish,
    does it spill rather than fail, and at what ratio."""
    data = work / "scale"
    reps = 1 if a.reps < 3 else a.reps // 3  # one pair in a default run: each takes minutes
    _say(f"scale: generating one hour of ~{a.scale_events:,} events")
    gen = run("generate", dest=str(data / "source"), start=HOUR.isoformat(), hours=1,
              events_per_hour=_rate_for(a.scale_events, [HOUR.hour]))
    src = str(data / "source")
    files = {s: f"{src}/{s}/**/*.jsonl.gz" for s in STREAMS}
    runs: dict[str, list[dict]] = {"cli": [], "unordered": []}
    for i in range(reps):
        _say(f"scale: repetition {i + 1}/{reps} ({gen['events']:,} events): clicklake run")
        runs["cli"].append(run("hour_cli", home=str(data / "rep"), source=src,
                               landing=str(data / "landing"), hour=HOUR.isoformat(),
                               may_fail=True))
        if runs["cli"][-1].get("failed"):
            _say(f"scale: {runs['cli'][-1]['failed']}")
        _say("scale: bare copy")
        runs["unordered"].append(run("bare_copy", files=files, out=str(data / "bare"),
                                     unordered=True))
    res["scale"] = {"generated": gen, "events": gen["events"], "reps": reps,
                    "memory_limit": Settings().memory_limit,
                    "source_mib": _size(data / "source") / 2**20}
    res["scale"]["unordered"] = _summary(runs["unordered"])
    done = [r for r in runs["cli"] if not r.get("failed")]
    res["scale"]["failed"] = [r["failed"] for r in runs["cli"] if r.get("failed")]
    if done:
        cli = res["scale"]["cli"] = _summary(done)
        cli["peak_rss_mib"] = max(r["cli_peak_mib"] for r in done)
        cli["spill_mib"] = max(r["spill_mib"] for r in done)
        res["scale"]["ratio"] = cli["median_s"] / res["scale"]["unordered"]["median_s"]
        res["scale"]["cpu_ratio"] = _cpu_ratio(cli, res["scale"]["unordered"])
    else:
        res["scale"]["cli"] = {"peak_rss_mib": max(r["cli_peak_mib"] for r in runs["cli"])}


def bench_day(run: Runner, a, work: Path, res: dict) -> None:
    """The last hour of a full day on top of its 23 earlier hours, against the same hour alone
    on a fresh lake: stage and marts rebuild whole days, so an hour costs with its day."""
    data = work / "day"
    start = DAY
    last = DAY + timedelta(hours=23)
    _say(f"day: generating 24 hours at {a.day_rate:,} events/hour")
    gen = run("generate", dest=str(data / "source"), start=start.isoformat(), hours=24,
              events_per_hour=a.day_rate)
    alone = data / "source_alone"  # the last hour, and the product catalog (first hour)
    for path in (data / "source").rglob("*.jsonl.gz"):
        if path.parent.name == "hour=23" or path.parts[-4] == "products":
            target = alone / path.relative_to(data / "source")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    _say("day: building its first 23 hours (extract, load, full build)")
    build = run("history", home=str(data / "lake_day"), source=str(data / "source"),
                landing=str(data / "landing_day"), start=start.isoformat(),
                end=last.isoformat())
    runs: dict[str, list[dict]] = {"on_day": [], "alone": []}
    for i in range(a.reps):
        _say(f"day: the last hour on the full day and alone, repetition {i + 1}/{a.reps}")
        runs["on_day"].append(run("hour", template=str(data / "lake_day"),
                                  home=str(data / "rep"), source=str(data / "source"),
                                  landing=str(data / "landing_day"), hour=last.isoformat()))
        runs["alone"].append(run("hour", home=str(data / "rep_alone"), source=str(alone),
                                 landing=str(data / f"landing_alone_{i}"),
                                 hour=last.isoformat()))
    out = {"rate": a.day_rate, "generated": gen, "build": build}
    for name, rs in runs.items():
        summary = _summary(rs)
        summary["phases"] = {k: statistics.median(r["phases"].get(k, 0.0) for r in rs)
                             for k in rs[0]["phases"]}
        out[name] = summary
    out["ratio"] = out["on_day"]["median_s"] / out["alone"]["median_s"]
    out["cpu_ratio"] = _cpu_ratio(out["on_day"], out["alone"])
    res["day"] = out


def bench_history(run: Runner, a, work: Path, res: dict, dashboard: bool,
                  history: bool) -> None:
    data = work / "history"
    days = a.history_days
    start = HOUR - timedelta(days=days)
    _say(f"history: generating {days} days at {a.history_rate:,} events/hour")
    gen = run("generate", dest=str(data / "source"), start=start.isoformat(),
              hours=days * 24 + 1, events_per_hour=a.history_rate)
    # the 1-day lake sees the events of its last day and the new hour only (its lookback finds
    # nothing more), and the shop's whole product catalog (exported in the first hour)
    short = data / "source_1d"
    for path in (data / "source").rglob("*.jsonl.gz"):
        stamp = path.parent.name, path.parent.parent.name  # hour=HH, date=YYYY-MM-DD
        at = datetime.fromisoformat(f"{stamp[1][5:]}T{stamp[0][5:]}:00+00:00")
        if at >= HOUR - timedelta(days=1) or path.parts[-4] == "products":
            target = short / path.relative_to(data / "source")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    lakes = {"1d": (short, start), f"{days}d": (data / "source", start)}
    res["history"] = {"generated": gen, "days": days, "rate": a.history_rate}
    for name, (source, first) in lakes.items():
        _say(f"history: building the {name} lake (extract, load, full build)")
        res["history"][f"build_{name}"] = run(
            "history", home=str(data / f"lake_{name}"), source=str(source),
            landing=str(data / f"landing_{name}"), start=first.isoformat(), end=HOUR.isoformat())
    if history:
        runs: dict[str, list[dict]] = {name: [] for name in lakes}
        for i in range(a.reps):
            for name, (source, _) in lakes.items():
                _say(f"history: one new hour on {name}, repetition {i + 1}/{a.reps}")
                runs[name].append(run("hour", template=str(data / f"lake_{name}"),
                                      home=str(data / "rep"), source=str(source),
                                      landing=str(data / f"landing_{name}"),
                                      hour=HOUR.isoformat()))
        for name, rs in runs.items():
            s = _summary(rs)
            s["phases"] = {k: statistics.median(r["phases"].get(k, 0.0) for r in rs)
                           for k in rs[0]["phases"]}
            res["history"][f"hour_on_{name}"] = s
        res["history"]["ratio"] = (res["history"][f"hour_on_{days}d"]["median_s"]
                                   / res["history"]["hour_on_1d"]["median_s"])
        res["history"]["cpu_ratio"] = _cpu_ratio(res["history"][f"hour_on_{days}d"],
                                                 res["history"]["hour_on_1d"])
    if dashboard:
        _say("dashboard: queries over the marts of the long history")
        res["dashboard"] = run("dashboard", home=str(data / f"lake_{days}d"),
                               landing=str(data / f"landing_{days}d"), reps=a.query_reps)


SECTIONS = report.SECTIONS


def _merged(old: dict, new: dict) -> dict:
    """`new` with the sections only `old` has: each section's ratios still compare figures of
    one run; `merged` says which sections came from which run."""
    kept = [k for k in SECTIONS if k in old and k not in new]
    if not kept:
        return new
    out = {**new, **{k: old[k] for k in kept}}
    out["disk_mib"] = {**old.get("disk_mib", {}), **new.get("disk_mib", {})}
    # each kept section's own run, through earlier merges too
    origin = old.get("merged", {}).get("origin", {})
    out["merged"] = {"origin": {k: origin.get(k, old.get("started")) for k in kept}}
    return out


def _done(path: Path, res: dict, name: str, keep: bool) -> None:
    """Note a section's disk use, then free it before the next section starts."""
    res["disk_mib"][name] = _size(path) / 2**20
    # the figures so far, in case a later section fails
    partial = Path(res["config"]["results"] + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps(res, indent=2, default=str) + "\n")
    if not keep:
        shutil.rmtree(path, ignore_errors=True)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem / 2**30,
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version()}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("clicklake", "duckdb", "duckdb-extension-ducklake", "pandas", "pyarrow", "dlt",
                 "matplotlib"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    only = set(a.only.split(","))
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="clicklake-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    run = Runner(work)
    res: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "config": {k: v for k, v in vars(a).items()
                   if k not in ("out", "chart", "workdir", "keep")},
        "loadavg_start": os.getloadavg(),
    }
    t0 = time.perf_counter()
    try:
        res["disk_mib"] = {}
        if only & {"load", "tools"}:
            bench_load(run, a, work, res, tools="tools" in only)
            _done(work / "load", res, "load", a.keep)
        for name, section in (("hour", bench_hour), ("ga4", bench_ga4), ("day", bench_day),
                              ("scale", bench_scale)):
            if name in only:
                section(run, a, work, res)
                _done(work / name, res, name, a.keep)
        if only & {"history", "dashboard"}:
            bench_history(run, a, work, res, dashboard="dashboard" in only,
                          history="history" in only)
            _done(work / "history", res, "history", a.keep)
    finally:
        if a.keep:
            _say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    res["loadavg_end"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - t0
    if a.merge and Path(a.results).is_file():
        res = _merged(json.loads(Path(a.results).read_text()), res)
    Path(a.results).parent.mkdir(parents=True, exist_ok=True)
    Path(a.results).write_text(json.dumps(res, indent=2, default=str) + "\n")
    report.write(res, Path(a.out), Path(a.chart))
    _say(f"done in {res['wall_s']:.0f}s: {a.out}, {a.chart}, raw figures in {a.results}")
    print(report.summary_table(res))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(1)
