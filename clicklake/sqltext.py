"""SQL text: the one way ClickLake quotes a value or a name it puts into a SQL statement, and
the one parser of a SQL file's `-- key: value` header.

Parameters (`?`, `$name`) are used wherever DuckDB takes them; `literal` and `ident` are for the
places it does not (COPY targets, ATTACH, SET, names of columns built from a contract). A SQL
file's header is its leading comment lines: `-- key: value` entries (`-- column name: meaning`
for per-column ones) before the first statement; models, checks and the source units use it.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^--\s*([a-z_]+)(?:\s+([A-Za-z0-9_]+))?:\s*(.*)$")


def literal(value: object) -> str:
    """`value` as a SQL string literal: `'it''s'`."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """`name` as a quoted SQL identifier (inner double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def header_lines(sql: str) -> list[tuple[str, str | None, str]]:
    """The (key, argument, value) entries of the file's leading comment block, in order:
    `-- partition: event_date` gives ('partition', None, 'event_date'), `-- column id: the id`
    gives ('column', 'id', 'the id'). Comment lines that are not entries are skipped."""
    entries = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            if line.strip():
                break
            continue
        m = _HEADER.match(line)
        if m:
            entries.append((m.group(1), m.group(2), m.group(3).strip()))
    return entries


def header(sql: str) -> dict[str, str]:
    """The header's plain `key: value` entries (the first of each key)."""
    out: dict[str, str] = {}
    for key, arg, value in header_lines(sql):
        if arg is None:
            out.setdefault(key, value)
    return out


def sections(text: str, key: str = "query") -> dict[str, str]:
    """A file of several statements, each after a `-- <key>: <name>` line, by name (what
    `sql/dashboard.sql` and `sql/status.sql` hold)."""
    parts = re.split(rf"^-- {key}: (.+)\n", text, flags=re.MULTILINE)
    return {name.strip(): sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


def bound(sql: str, params: dict[str, object]) -> dict[str, object]:
    """The parameters `sql` uses (`$name` outside `--` comments): DuckDB rejects unused ones."""
    code = re.sub(r"--[^\n]*", "", sql)
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", code)}
