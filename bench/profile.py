"""Where an hour's time goes: wall and CPU seconds per phase, per model and per check.

`profiled(fn)` runs `fn()` with ClickLake's phase functions wrapped by timers (module
attributes replaced for the call, restored after). CPU is `time.process_time()`, the whole
process's CPU, every DuckDB thread included, so CPU / wall tells how busy the cores were. Times
are exclusive: a wrapped call inside another (a check inside the lake checks) is counted in
its own row, not its caller's. Only calls on the main thread are timed (extract and load run
their streams on a pool; they are timed as a whole).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

# (module, attribute, row name or a function naming the row from the call's arguments)
Namer = str | Callable[..., str]


def _targets() -> list[tuple[object, str, Namer]]:
    from clicklake import checks, pipeline, transform

    def model(con, model, *a, **k) -> str:
        return f"model {model.name}"

    return [
        (pipeline, "extract", "extract (streams in parallel)"),
        (pipeline, "unread_streams", "extract: list unread source folders"),
        (pipeline, "load", "load (streams in parallel)"),
        (pipeline, "build_stage", "stage: discovery, transaction, commit"),
        (pipeline, "build_marts", "marts: discovery, transaction, commit"),
        (pipeline, "lake_checks", "lake checks: other"),
        (pipeline, "record_steps", "ops writes: ops.runs"),
        (transform, "pending_batches", "stage: pending batches"),
        (transform, "affected_days", "stage: affected days"),
        (transform, "lake_tables", "transform: list lake tables"),
        (transform, "drop_private", "stage: drop private tables"),
        (transform, "_rebuild", model),
        (transform, "mark_transformed", "ops writes: transformed batches"),
        (checks, "record", "ops writes: check results"),
    ]


class Profile:
    """Rows of (name, calls, wall s, cpu s), exclusive of nested timed calls."""

    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {}
        self._stack: list[list[float]] = []  # per open call: [child wall, child cpu]
        self._main = threading.main_thread()

    @contextmanager
    def timed(self, name: str):
        if threading.current_thread() is not self._main:
            yield
            return
        self._stack.append([0.0, 0.0])
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            child_wall, child_cpu = self._stack.pop()
            row = self.rows.setdefault(name, [0, 0.0, 0.0])
            row[0] += 1
            row[1] += wall - child_wall
            row[2] += cpu - child_cpu
            if self._stack:
                self._stack[-1][0] += wall
                self._stack[-1][1] += cpu

    def wrap(self, fn: Callable, namer: Namer) -> Callable:
        def timed_call(*args, **kwargs):
            name = namer if isinstance(namer, str) else namer(*args, **kwargs)
            with self.timed(name):
                return fn(*args, **kwargs)

        return timed_call

    def table(self) -> list[dict]:
        return [{"name": n, "calls": int(c), "wall_s": w, "cpu_s": u}
                for n, (c, w, u) in self.rows.items()]


def _evaluate_each(prof: Profile, evaluate: Callable) -> Callable:
    """checks.evaluate, one check at a time, so that each check gets its own row."""

    def each(con, settings, todo, days, run_end):
        found = []
        for check in todo:
            with prof.timed(f"check {check.layer} {check.name}"):
                found += evaluate(con, settings, [check], days, run_end)
        return found

    return each


def profiled(fn: Callable[[], object]) -> tuple[object, list[dict], float, float]:
    """Run `fn()` with the phase functions timed; returns its result, the rows, and the
    whole call's wall and CPU seconds (the rows' remainder is start-up of the run, its hour
    summary and whatever no row names)."""
    from clicklake import checks

    prof = Profile()
    saved = [(mod, attr, getattr(mod, attr)) for mod, attr, _ in _targets()]
    saved.append((checks, "evaluate", checks.evaluate))
    try:
        for mod, attr, namer in _targets():
            setattr(mod, attr, prof.wrap(getattr(mod, attr), namer))
        checks.evaluate = _evaluate_each(prof, checks.evaluate)
        w0, c0 = time.perf_counter(), time.process_time()
        with prof.timed("other (run_hour itself)"):
            result = fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    finally:
        for mod, attr, original in saved:
            setattr(mod, attr, original)
    return result, prof.table(), wall, cpu


# the rows' phase, for the per-phase summary
def phase_of(name: str) -> str:
    if name.startswith("extract"):
        return "extract"
    if name.startswith("load"):
        return "load"
    if name.startswith("model stage.") or name.startswith("model temp.") or name.startswith(
            "stage"):
        return "stage"
    if name.startswith("model mart.") or name.startswith("marts"):
        return "marts"
    if name.startswith(("check", "lake checks")):
        return "checks"
    if name.startswith("ops writes"):
        return "ops writes"
    return "other"
