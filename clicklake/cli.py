"""The `clicklake` command line: generate, run, query, status, demo.

Errors a user can cause (bad SQL, an unreachable catalog, a missing source, a bad date, a
read-only or full disk, a folder that cannot be written) print one line naming the path and
what to do (`clicklake.errors`) and exit with status 1; a failed check exits with status 2.
Nothing prints a traceback unless `CLICKLAKE_DEBUG=1`, and none shows a password.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clicklake import errors, pipeline, report
from clicklake.config import Settings, load_settings
from clicklake.lake import check_read_only_sql, connect

# piped output keeps whole lines instead of wrapping at 80 columns
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 200)
DEMO_START = "2024-03-01"


def _hour(text: str) -> datetime:
    for fmt in ("%Y-%m-%dT%H", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.removesuffix("Z"), fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"{text!r} is not an hour like 2024-03-01T13")


def _day(text: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-03-01") from None


def _print_step(step: pipeline.Step) -> None:
    if step.step == pipeline.UNREAD:  # a source folder no format reads: say so, plainly
        console.print(f"  [yellow]warning[/yellow] {step.message}", highlight=False)
        return
    if step.step == pipeline.SKIPPED:
        return  # run_hours says it in its own words
    extra = f"  {step.message}" if step.message else ""
    console.print(
        f"  {step.step:<9} {step.target:<32} {step.rows:>10,} rows {step.seconds:>7.2f}s{extra}",
        highlight=False,
    )


def run_hours(settings: Settings, start: datetime, end: datetime) -> list[pipeline.HourSummary]:
    """Run the hours of [start, end) that have something new, hour by hour, with a progress
    bar and a line per step; the hours with nothing new are skipped and recorded once."""
    if not pipeline.hours(start, end):
        raise ValueError(f"nothing to run: --end {end:%Y-%m-%dT%H} is not after --start")
    summaries = []
    con = connect(settings=settings)
    try:
        plan = pipeline.plan_range(con, settings, start, end)
        todo = plan.todo
        pipeline.record_skipped(con, settings, plan, on_step=_print_step)
        span = f"{start:%Y-%m-%dT%H}..{end:%Y-%m-%dT%H}"
        if not todo:
            console.print(
                f"[bold]nothing to do[/bold]: no new source files for {span} and nothing "
                f"pending; {plan.skipped:,} hours skipped", highlight=False)
        elif plan.skipped:
            console.print(
                f"{plan.skipped:,} of {plan.skipped + len(todo):,} hours have nothing new: "
                f"skipped; running the {len(todo):,} with new files", highlight=False)
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        ) as bar:
            task = bar.add_task("hours", total=len(todo))
            for hour in todo:
                bar.update(task, description=f"hour {hour:%Y-%m-%dT%H}")
                console.print(f"[bold]{hour:%Y-%m-%dT%H}:00Z[/bold]", highlight=False)
                t0 = time.perf_counter()
                summary = pipeline.run_hour(con, settings, hour, on_step=_print_step)
                loaded = sum(r.rows_loaded for r in summary.loaded.values())
                rejected = sum(r.rows_rejected for r in summary.loaded.values())
                console.print(
                    f"  [green]done[/green] {loaded:,} rows loaded, {rejected:,} rejected, "
                    f"{len(summary.days)} days rebuilt in {time.perf_counter() - t0:.2f}s",
                    highlight=False,
                )
                summaries.append(summary)
                bar.advance(task)
    finally:
        con.close()
    return summaries


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from clicklake.generate import generate

    dest = Path(args.dest or settings.source_uri)
    if str(dest).startswith("s3://"):
        raise ValueError("generate writes to a local folder: pass --dest")
    t0 = time.perf_counter()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("generating", total=args.hours)
        result = generate(
            dest, args.start, args.hours, events_per_hour=args.events_per_hour, seed=args.seed,
            faults=args.faults, progress=lambda i: bar.update(task, completed=i),
            format=args.format, file_format=args.file_format,
        )
    console.print(
        f"wrote {result['files']:,} {args.format} files, {result['events']:,} events, "
        f"{result['lines']:,} lines ({result['rejected_lines']:,} to be rejected) to {dest} "
        f"in {time.perf_counter() - t0:.1f}s; truth in {dest / 'truth.json'}",
        highlight=False,
    )
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    run_hours(settings, args.start, args.end)
    return 0


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    con = connect(settings=settings)
    try:
        t0 = time.perf_counter()
        runs = pipeline.rebuild(con, settings, f"rebuild-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        for r in runs:
            _print_step(pipeline.Step("rebuild", r.name, r.rows, r.seconds))
        console.print(
            f"  [green]done[/green] {len(runs)} models rebuilt from raw in "
            f"{time.perf_counter() - t0:.2f}s",
            highlight=False,
        )
    finally:
        con.close()
    return 0


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from clicklake import checks, sources, transform

    print("# Source formats\n")
    print("Each format is a folder `sql/sources/<format>/`; the conformed stage models below are "
          "the union of the formats' staging models, with `source_format` saying which.\n")
    print(sources.docs())
    print("# ClickLake models\n")
    print(transform.docs())
    print("# Checks\n\n| check | severity | layer | rule |\n| --- | --- | --- | --- |")
    for c in checks.discover():
        print(f"| `{c.name}` | {c.severity} | {c.layer} | {c.description} |")
    return 0


def _jsonable(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    con = connect(read_only=True, settings=settings)
    try:
        check_read_only_sql(con, args.sql)
        cur = con.execute(args.sql)
        if cur.description is None:
            return 0
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    if args.format == "json":
        data = [dict(zip(columns, r, strict=True)) for r in rows]
        print(json.dumps(data, default=_jsonable, indent=2))
    elif args.format == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        out.print(report.table(columns, rows))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    con = connect(read_only=True, settings=settings)
    try:
        for title, (columns, rows) in report.status(con).items():
            out.print(report.table(columns, rows, title=title))
    finally:
        con.close()
    return 0


def cmd_maintain(args: argparse.Namespace, settings: Settings) -> int:
    from clicklake.maintain import maintain

    con = connect(settings=settings)
    try:
        done = maintain(con, settings)
    finally:
        con.close()
    before, after = done.pop("before"), done.pop("after")
    for what in ("live_files", "live_bytes", "stored_files", "stored_bytes", "snapshots"):
        console.print(f"  {what:<14} {before[what]:>12,} -> {after[what]:>12,}", highlight=False)
    console.print("  " + ", ".join(f"{k} {v}" for k, v in done.items()), highlight=False)
    return 0


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from clicklake.deploy import init_lake

    def waiting(reason: str) -> None:
        console.print(f"waiting for the lake: {reason}", highlight=False)

    console.print(init_lake(settings, wait_s=args.wait, on_retry=waiting), highlight=False)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from clicklake.generate import FAULTS, generate

    start = _day(DEMO_START)
    source = Path(settings.source_uri)
    console.rule("[bold]ClickLake demo")
    console.print(f"lake home: {settings.home.resolve()}", highlight=False)
    t0 = time.perf_counter()
    result = generate(source, start, 24, events_per_hour=args.events_per_hour, seed=args.seed,
                      faults=FAULTS)
    console.print(
        f"generated one day of shop traffic: {result['events']:,} events in "
        f"{result['files']:,} files, with every fault on ({', '.join(FAULTS)}) "
        f"in {time.perf_counter() - t0:.1f}s",
        highlight=False,
    )
    run_hours(settings, start, start + timedelta(hours=24))
    con = connect(read_only=True, settings=settings)
    try:
        truth = json.loads((source / "truth.json").read_text())
        columns, rows, ok = report.against_truth(con, truth)
        title = "mart.daily_kpis against the generator's truth"
        out.print(report.table(columns, rows, title=title))
        for title, (cols, rs) in report.demo_extras(con).items():
            out.print(report.table(cols, rs, title=title))
    finally:
        con.close()
    out.print(report.NEXT_STEPS)
    return 0 if ok else 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clicklake", description="An e-commerce clickstream lakehouse on DuckDB + DuckLake."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="generate a sample day, run every hour, print a summary")
    p.add_argument("--events-per-hour", type=int, default=2000)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("generate", help="write sample source files and their truth.json")
    p.add_argument("--start", type=_day, required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--hours", type=int, required=True)
    p.add_argument("--events-per-hour", type=int, default=2000,
                   help="mean events per generated hour (the daily rhythm shapes them)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--faults", nargs="*", default=[],
                   help="duplicates late malformed missing_field extra_field")
    p.add_argument("--dest", help="source folder (default: CLICKLAKE_SOURCE_URI)")
    p.add_argument("--format", choices=("tracker", "ga360", "ga4"), default="tracker",
                   help="the same shop as tracker files (hourly), or as a GA360 or GA4 "
                        "BigQuery export (daily)")
    p.add_argument("--file-format", choices=("jsonl", "parquet"), default="jsonl",
                   help="GA exports only: newline-delimited JSON (.jsonl.gz) or Parquet")
    p.set_defaults(fn=cmd_generate)

    p = sub.add_parser("run", help="run the hours [start, end): extract, load, stage, marts, "
                       "checks")
    p.add_argument("--start", type=_hour, required=True, help="first hour, YYYY-MM-DDTHH (UTC)")
    p.add_argument("--end", type=_hour, required=True, help="end hour (excluded), YYYY-MM-DDTHH")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("query", help="ad-hoc SQL over the lake (schemas raw, stage, mart, ops)")
    p.add_argument("sql")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(fn=cmd_query)

    p = sub.add_parser("rebuild", help="recompute stage and marts from raw, from scratch")
    p.set_defaults(fn=cmd_rebuild)

    p = sub.add_parser("docs", help="the source formats, every model's grain and columns, "
                                         "and every check (Markdown)")
    p.set_defaults(fn=cmd_docs)

    p = sub.add_parser("status", help="freshness, row counts per layer, rejected rows, last runs")
    p.set_defaults(fn=cmd_status)

    p = sub.add_parser("maintain", help="compaction, snapshot expiry, file cleanup, landing "
                       "retention; file counts and bytes before and after")
    p.set_defaults(fn=cmd_maintain)

    p = sub.add_parser("init", help="create the lake if missing and check the pipeline can reach "
                       "the catalog, the source and the landing area")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="keep retrying this long while the catalog or S3 is not up yet")
    p.set_defaults(fn=cmd_init)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `clicklake` command."""
    if argv is None and "pandas" not in sys.modules:
        # DuckDB's Python client imports pandas on the first query that binds a parameter,
        # only to compare each value with pandas.NaT: most of a second to start and a quarter
        # to exit, in a program that never makes a DataFrame. Without pandas it skips that.
        sys.modules["pandas"] = None
    logging.basicConfig(
        level=os.environ.get("CLICKLAKE_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        settings = load_settings()
        return args.fn(args, settings)
    except pipeline.ChecksFailed as exc:
        console.print(f"[red]clicklake: {escape(str(exc))}[/red]", highlight=False,
                      soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[red]clicklake: interrupted[/red]")
        return 130
    except Exception as exc:
        if os.environ.get("CLICKLAKE_DEBUG"):  # the whole chain, every password hidden
            text = "".join(traceback.format_exception(exc))
            sys.stderr.write(errors.scrub(text, settings))
            return 1
        # one line, however long: rich would otherwise wrap it at the console's width
        message = escape(errors.scrub(errors.one_line(exc, settings), settings))
        console.print(f"[red]clicklake: {message}[/red]", highlight=False, soft_wrap=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
