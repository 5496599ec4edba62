"""Source formats: each one a folder `sql/sources/<format>/`, the only place a stream is named.

A unit holds its declaration (`source.toml`: streams, hourly or daily files, event time, visit
key, late-data window, accepted values), the raw DDL of its streams (`raw/<stream>.sql`), its
staging models onto the conformed contract (`stage/<model>.sql`), the days a load batch can
change (`affected_days.sql`), its raw-to-stage reconciliation (`reconcile.sql`) and each
loaded file's raw events per day (`file_days.sql`, for the dashboard's "what changed"). Everything
else reads this registry: the settings' stream list, the lake's raw tables, the conformed stage
models (the union of the units' models, with a `source_format` column), affected days,
reconciliation, freshness and accepted values. Adding a format is adding a folder.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from clicklake.sqltext import header, literal

CADENCES = ("hourly", "daily")


@dataclass(frozen=True)
class SourceFormat:
    """One source format's declaration and its folder."""

    name: str
    path: Path
    description: str
    streams: tuple[str, ...]
    cadence: str = "hourly"
    optional_streams: tuple[str, ...] = ()
    event_time: str = ""
    visit_key: str = ""
    late_hours: int = 48
    accepted: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def file(self, relative: str) -> Path | None:
        """A file of the unit (`stage/events.sql`, `reconcile.sql`), or None if it has none."""
        path = self.path / relative
        return path if path.is_file() else None


def _read(path: Path) -> SourceFormat:
    try:
        spec = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    unit = path.parent
    streams = tuple(spec.get("streams", ()))
    if not streams:
        raise ValueError(f"{path}: declares no streams")
    cadence = spec.get("cadence", "hourly")
    if cadence not in CADENCES:
        raise ValueError(f"{path}: cadence must be one of {CADENCES}, not {cadence!r}")
    for stream in streams:
        if not (unit / "raw" / f"{stream}.sql").is_file():
            raise ValueError(f"{path}: stream {stream!r} has no raw/{stream}.sql")
    return SourceFormat(
        name=unit.name,
        path=unit,
        description=spec.get("description", ""),
        streams=streams,
        cadence=cadence,
        optional_streams=tuple(spec.get("optional_streams", ())),
        event_time=spec.get("event_time", ""),
        visit_key=spec.get("visit_key", ""),
        late_hours=int(spec.get("late_hours", 48)),
        accepted={k: tuple(v) for k, v in spec.get("accepted", {}).items()},
    )


@cache
def formats(sql_dir: Path | None = None) -> tuple[SourceFormat, ...]:
    """Every source format under `sql/sources`, by name; a stream declared twice is an error."""
    if sql_dir is None:
        from clicklake.config import SQL_DIR

        sql_dir = SQL_DIR
    found = tuple(_read(p) for p in sorted((sql_dir / "sources").glob("*/source.toml")))
    owner: dict[str, str] = {}
    for unit in found:
        for stream in unit.streams:
            if stream in owner:
                raise ValueError(f"stream {stream!r} is declared by both {owner[stream]} and "
                                 f"{unit.name}")
            owner[stream] = unit.name
    return found


def streams() -> tuple[str, ...]:
    """Every declared stream, format by format."""
    return tuple(s for unit in formats() for s in unit.streams)


def format_of(stream: str) -> SourceFormat:
    """The format that declares `stream`."""
    for unit in formats():
        if stream in unit.streams:
            return unit
    raise KeyError(f"no source format declares stream {stream!r}")


def loaded(con) -> set[str]:
    """The formats with data in the lake (a file of one of their streams in the load ledger):
    stage is built from these only, so a format a shop does not use costs nothing."""
    streams = {r[0] for r in con.execute("select distinct stream from ops.load_ledger").fetchall()}
    return {unit.name for unit in formats() if streams & set(unit.streams)}


def to_read(con) -> set[str] | None:
    """The formats a query over every source format reads on this lake: those with data
    (`loaded`), or None, every format, on a lake that has loaded nothing yet."""
    return loaded(con) or None


def raw_ddl() -> list[Path]:
    """The raw DDL files of every unit (one table per stream)."""
    return [unit.path / "raw" / f"{s}.sql" for unit in formats() for s in unit.streams]


def union_sql(relative: str, columns: list[str] | None = None,
              only: Collection[str] | None = None) -> str | None:
    """One query over every unit (of the formats `only`, if given) that has the file
    `relative`: each unit's rows with a `source_format` column first, then `columns` (all of the
    unit's, if None), unioned. None when no unit has the file."""
    parts = []
    for unit in formats():
        path = unit.file(relative)
        if path is None or (only is not None and unit.name not in only):
            continue
        body = path.read_text().rstrip().rstrip(";")
        chosen = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        parts.append(
            f"select {literal(unit.name)} as source_format, {chosen} from (\n{body}\n)"
        )
    return "\nunion all by name\n".join(parts) if parts else None


def with_union(sql: str, relative: str, where: str,
               only: Collection[str] | None = None) -> str | None:
    """`sql` reading `source_rows`: every source format's `relative` file (of the formats
    `only`, if given), unioned (see `union_sql`); `where` names the query in the error when no
    format has the file. With `only`, None when none of those formats has it."""
    rows = union_sql(relative, only=only)
    if rows is None:
        if only is not None:
            return None
        raise ValueError(f"{where}: no source format has {relative}")
    body = sql.rstrip().rstrip(";")
    return f"with source_rows as (\n{rows}\n)\nselect * from (\n{body}\n)"


def depends_on(relative: str, only: Collection[str] | None = None) -> list[str]:
    """The `-- depends_on:` models that the units' `relative` files name."""
    found: list[str] = []
    for unit in formats():
        path = unit.file(relative)
        if path is None or (only is not None and unit.name not in only):
            continue
        for dep in header(path.read_text()).get("depends_on", "").split(","):
            if dep.strip() and dep.strip() not in found:
                found.append(dep.strip())
    return found


def as_json() -> str:
    """The registry as JSON for checks (`$sources`): one object per stream with its format,
    cadence, late-data window and whether it is optional, and per format its accepted values."""
    return json.dumps([
        {
            "format": unit.name,
            "stream": stream,
            "cadence": unit.cadence,
            "late_hours": unit.late_hours,
            "optional": stream in unit.optional_streams,
            "accepted": [{"field": k, "value": v} for k, vs in unit.accepted.items() for v in vs],
            "checks_values": sorted(k for k, vs in unit.accepted.items() if vs),
        }
        for unit in formats()
        for stream in unit.streams
    ])


def docs() -> str:
    """Each source format's declaration and how its staging models fill the conformed
    contract, as Markdown (`clicklake docs`)."""
    out = []
    for unit in formats():
        out.append(f"## `{unit.name}`: {unit.description}\n")
        files = "files per hour (`date=/hour=` folders)" if unit.cadence == "hourly" else \
            "one export per day (`date=` folders)"
        out.append(f"- streams: {', '.join(f'`{s}`' for s in unit.streams)}; {files}")
        if unit.optional_streams:
            out.append(f"- optional: {', '.join(f'`{s}`' for s in unit.optional_streams)}")
        out.append(f"- event time: `{unit.event_time}`; visit key: `{unit.visit_key}`; files may "
                   f"arrive up to {unit.late_hours} h late")
        for field_name, values in unit.accepted.items():
            if values:
                out.append(f"- accepted `{field_name}`: {', '.join(values)}")
        out.append("")
        for path in sorted((unit.path / "stage").glob("*.sql")):
            lines = []
            for line in path.read_text().splitlines():  # the leading comment block only
                if not line.startswith("--"):
                    if line.strip():
                        break
                elif not header(line):
                    lines.append(line[2:].strip())
            if lines:
                out.append(f"**stage.{path.stem}** (`sql/sources/{unit.name}/stage/{path.name}`): "
                           + " ".join(lines).split(": ", 1)[-1] + "\n")
    return "\n".join(out)
