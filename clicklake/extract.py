"""Extract: source objects → landing, each source object version exactly once.

For every stream, list the source objects of the hours being run plus a lookback window (so a
file that arrives late in an earlier hour's folder is still found), skip the versions already
in `ops.landed_files`, decompress, and split the lines in DuckDB: JSON objects go to the landing
file, anything else goes to a rejected sidecar with its line number and reason. The landing file
keeps line numbers: a rejected or blank line stays as an empty line, so line N of the landing
file is line N of the source. The manifest counts those empty lines (`lines_blank`): a landing
file without any is dense, and its rows can be numbered as they are read.

A Parquet source (BigQuery's EXPORT DATA writes Parquet) lands as it is, its rows counted from
its metadata; a file that is not valid Parquet lands as one invalid line: an empty landing
JSONL file and a rejected sidecar line that names the reason, so the ledger still reconciles.
Daily exports have `date=` folders without `hour=`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath

import duckdb
from isal import igzip

from clicklake import sources
from clicklake.config import Settings
from clicklake.lake import (
    catalog_read,
    commit_message,
    first_line,
    off_catalog,
    retry_transaction,
    transaction,
)
from clicklake.sqltext import literal
from clicklake.storage import (
    ObjectInfo,
    copy_file,
    is_s3,
    join,
    list_folder,
    list_objects,
    list_uris,
    local_copy,
    temp_dir,
    write_bytes,
)

log = logging.getLogger(__name__)
_PARTITION = re.compile(r"/date=(\d{4}-\d{2}-\d{2})(?:/hour=(\d{2}))?/")
_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIX = ".parquet"
# top-level names of the source root that are no stream: the generator's answer key
NOT_STREAMS = frozenset({"truth.json"})
# the longest line read by default (a GA360 session with its hits can be megabytes);
# CLICKLAKE_MAX_LINE_BYTES sets it, and a longer line is a rejected line.
MAX_LINE_BYTES = 64 * 1024 * 1024


def lines_options(max_line_bytes: int = MAX_LINE_BYTES) -> str:
    """read_csv options that read a file as whole lines of at most `max_line_bytes`: the
    delimiter is a control character valid JSON cannot hold unescaped, no quoting, nothing
    guessed. The CSV reader's buffer is the line size (its default, 16 x the line size,
    allocates 1 GiB per file read, which cost more than a second per file and most of a run's
    peak memory), and at least 2 MiB, so a low limit does not read in tiny pieces (a buffer
    that is not a whole number of MiB breaks the parallel reader: "does not support a full
    read")."""
    buffer = max(max_line_bytes, 2 * 1024 * 1024)
    return (
        "header = false, delim = chr(1), quote = '', escape = '', comment = '', "
        f"auto_detect = false, strict_mode = false, max_line_size = {max_line_bytes}, "
        f"buffer_size = {buffer}"
    )


LINES = lines_options()
# what the lines reader raises for a line that cannot be decoded: bytes that are not UTF-8, a
# line over the size limit. Such a file is read again by `_sanitize`.
_UNDECODABLE = ("Invalid unicode", "Maximum line size", "maximum line size")
# why a file of a stream folder is not read when no date= folder holds it
UNDATED = "not under a date=YYYY-MM-DD folder"
# how much of an undecodable line a rejected row keeps
_KEPT_CHARS = 1000
# Whether `line` is a JSON object: a valid JSON text that starts with `{` is one, so json_type
# (a second parse) runs only for the odd others. CASE, not AND/OR: it never parses invalid JSON.
_IS_OBJECT = """case
    when not json_valid(line) then false
    when starts_with(line, '{') then true
    else json_type(line) = 'OBJECT'
end"""


@dataclass
class LandedFile:
    stream: str
    source: ObjectInfo
    landing_uri: str
    rejected_uri: str | None
    lines_in: int
    lines_invalid: int
    lines_blank: int = 0  # empty lines of the landing file (blank or invalid in the source)


@dataclass
class ExtractResult:
    stream: str
    listed: int = 0
    skipped: int = 0
    ignored: list[str] = field(default_factory=list)
    # (key, why) of objects never read: their key could reach outside the stream's folder,
    # or they lie outside any date= folder (so no hour or day is theirs)
    refused: list[tuple[str, str]] = field(default_factory=list)
    landed: list[LandedFile] = field(default_factory=list)

    @property
    def lines_in(self) -> int:
        return sum(f.lines_in for f in self.landed)

    @property
    def lines_invalid(self) -> int:
        return sum(f.lines_invalid for f in self.landed)


def unsafe_key(uri: str, folder: str) -> str | None:
    """Why the object `uri` must not be read as a file of the stream folder `folder`, or None.

    A key is only a name on S3, but a URL built from one is normalised by the client: a key
    with `..` segments under this bucket's stream folder would GET an object of another folder,
    or another bucket, with the pipeline's own credentials. Such keys, keys with empty or `.`
    segments (`//`, a leading `/`) or backslashes, keys with a control character (a newline
    in a name forges log lines and breaks every listing that prints it), keys outside the
    folder and, in a local folder, symbolic links to a file outside it (the lake would read
    `/etc/passwd` and keep its lines as rejected rows) are refused: reported, never read,
    never landed.
    """
    prefix = folder.rstrip("/") + "/"
    if not uri.startswith(prefix):
        return "outside its stream's folder"
    segments = uri[len(prefix):].split("/")
    if any(s == ".." for s in segments):
        return "a '..' segment"
    if any(s in ("", ".") for s in segments):
        return "an empty or '.' segment"
    if "\\" in uri:
        return "a backslash"
    if any(ord(c) < 32 or ord(c) == 127 for c in uri):
        return "a control character"
    if not is_s3(uri) and not Path(uri).resolve().is_relative_to(Path(folder).resolve()):
        return "a link to a file outside its stream's folder"
    return None


def partition_of(uri: str) -> tuple[date, int | None] | None:
    """The (date, hour) a source object sits under, from its `date=/hour=` folders."""
    m = _PARTITION.search(uri)
    if not m:
        return None
    return date.fromisoformat(m.group(1)), int(m.group(2)) if m.group(2) else None


def folders_of(uris: list[str]) -> str:
    """The `date=/hour=` folders of some source objects in a few words, for a commit message:
    `2024-03-01 13:00`, `2024-03-01 13:00..15:00 (3 hours)`, `2024-03-01` (a daily export)."""
    parts = sorted({p for p in map(partition_of, uris) if p is not None},
                   key=lambda p: (p[0], -1 if p[1] is None else p[1]))
    if not parts:
        return "no dated folder"

    def name(p: tuple[date, int | None]) -> str:
        return p[0].isoformat() if p[1] is None else f"{p[0].isoformat()} {p[1]:02d}:00"

    if len(parts) == 1:
        return name(parts[0])
    unit = "days" if all(h is None for _, h in parts) else "folders"
    return f"{name(parts[0])}..{name(parts[-1])} ({len(parts)} {unit})"


def in_window(uri: str, start: datetime, end: datetime) -> bool:
    """Whether the object's folder hour (or day, for daily exports) overlaps [start, end)."""
    part = partition_of(uri)
    if part is None:
        return False
    day, hour = part
    lo = datetime(day.year, day.month, day.day, hour or 0, tzinfo=UTC)
    hi = lo + (timedelta(hours=1) if hour is not None else timedelta(days=1))
    return lo < end and hi > start


def source_objects(
    settings: Settings, stream: str, start: datetime, end: datetime
) -> list[ObjectInfo]:
    """The stream's source objects whose folder lies in [start - lookback, end). The lookback
    is the setting's, widened to the late-data window its source format declares (a GA
    export may come days late)."""
    late = next((u.late_hours for u in sources.formats() if stream in u.streams), 0)
    lo = start - timedelta(hours=max(settings.lookback_hours, late))
    found: list[ObjectInfo] = []
    day = lo.date()
    while day <= (end - timedelta(microseconds=1)).date():
        prefix = join(settings.source_uri, stream, f"date={day.isoformat()}")
        found += [o for o in list_objects(settings, prefix) if in_window(o.uri, lo, end)]
        day += timedelta(days=1)
    return found


def unknown_streams(
    settings: Settings, known: Iterable[str], start: datetime, end: datetime
) -> dict[str, int]:
    """Top-level folders of the source that are no known stream, each with how many of its
    files a run of [start, end) would have read were it one: those whose `date=`/`hour=` folder
    lies in the window (lookback included, as `source_objects`) and those without a `date=`
    folder. Hidden names (`.x`, `_x`) are skipped; top-level files are no stream. Folders with
    no such file are left out.

    One grouped listing per folder level: below an unknown folder only its `date=` folders of
    the window are listed whole, so a long history is not walked every run.
    """
    lo = start - timedelta(hours=settings.lookback_hours)
    known = set(known)
    folders, _ = list_folder(settings, settings.source_uri)
    found: dict[str, int] = {}
    for name in folders:
        if name in known or name in NOT_STREAMS or name.startswith((".", "_")):
            continue
        n = _count_in_window(settings, join(settings.source_uri, name), lo, end)
        if n:
            found[name] = n
    return found


def undated_files(settings: Settings, stream: str) -> list[str]:
    """The stream's files that lie in no `date=` folder (directly in the stream's folder, or
    in another folder of it), which extract never reads: it reports them instead of skipping
    them silently. Hidden names (`.x`, `_x`) are left out. One listing of the stream folder;
    its `date=` folders are not walked."""
    prefix = join(settings.source_uri, stream)
    folders, files = list_folder(settings, prefix)
    found = list(files)
    for name in folders:
        if not name.startswith(("date=", ".", "_")):
            found += list_uris(settings, join(prefix, name))
    return [uri for uri in found if not PurePosixPath(uri).name.startswith((".", "_"))
            and partition_of(uri) is None]


def _count_in_window(settings: Settings, prefix: str, lo: datetime, end: datetime) -> int:
    """Files below `prefix` that are in [lo, end) or outside any `date=` folder."""
    first, last = lo.date(), (end - timedelta(microseconds=1)).date()
    folders, files = list_folder(settings, prefix)
    n = sum(1 for uri in files if _counts(uri, lo, end))
    for name in folders:
        if name.startswith((".", "_")):
            continue
        day = re.fullmatch(r"date=(\d{4}-\d{2}-\d{2})", name)
        if day and not first <= date.fromisoformat(day.group(1)) <= last:
            continue  # a day outside the window: not listed
        n += sum(1 for uri in list_uris(settings, join(prefix, name)) if _counts(uri, lo, end))
    return n


def _counts(uri: str, lo: datetime, end: datetime) -> bool:
    if PurePosixPath(uri).name.startswith((".", "_")):
        return False
    return partition_of(uri) is None or in_window(uri, lo, end)


def landing_name(obj: ObjectInfo, member: str | None = None) -> str:
    """`date=...[/hour=...]/<stem>-<etag8>[__<member>].jsonl` (`.parquet` for a Parquet
    source): a new version gets a new name."""
    rel = obj.uri[_PARTITION.search(obj.uri).start() + 1 :]
    folder, name = rel.rsplit("/", 1)
    stem = _strip_suffixes(name)
    if member:
        stem += "__" + _strip_suffixes(PurePosixPath(member).name)
    suffix = PARQUET_SUFFIX if _kind(member or obj.uri) == "parquet" else ".jsonl"
    return f"{folder}/{stem}-{obj.etag[:8]}{suffix}"


def _strip_suffixes(name: str) -> str:
    for suffix in (".gz", ".zip", PARQUET_SUFFIX, *_SUFFIXES):
        name = name.removesuffix(suffix)
    return name


def _kind(uri: str) -> str | None:
    name = uri.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(PARQUET_SUFFIX):
        return "parquet"
    if name.endswith(tuple(s + ".gz" for s in _SUFFIXES)):
        return "gzip"
    if name.endswith(_SUFFIXES):
        return "none"
    return None


def split_lines(
    con: duckdb.DuckDBPyConnection, path: str, compression: str, landing_uri: str,
    rejected_uri: str, max_line_bytes: int = MAX_LINE_BYTES,
    undecodable: list[tuple[int, str, str]] | None = None,
) -> tuple[int, int, int]:
    """Split one JSONL file into landing (objects) and a rejected sidecar; return (lines, bad,
    empty lines of the landing file).

    Blank lines are not rows. Each line is read as text (the delimiter is a control character
    that valid JSON cannot hold unescaped) so that invalid JSON is seen, numbered and kept.
    The landing file is written in one streaming pass (row order is kept, so line N stays
    line N); only a file with blank or invalid lines is read again to number and keep them.
    `undecodable` are the (line_no, reason, text) of lines `_sanitize` emptied: rejected lines,
    not blank ones. A line with a NUL byte is rejected as such.
    """
    source = f"""
        read_csv(
            $path, columns = {{'line': 'VARCHAR'}}, {lines_options(max_line_bytes)},
            compression = $compression
        )"""
    params = {"path": path, "compression": compression}
    total = con.execute(
        f"""
        copy (
            select case when {_IS_OBJECT} then line else '' end
            from {source}
        ) to {literal(landing_uri)} (format csv, header false, quote '', escape '',
            delimiter chr(1))
        """,
        params,
    ).fetchone()[0]
    landed = con.execute(
        f"""
        select count(*) from read_csv(
            {literal(landing_uri)}, columns = {{'line': 'VARCHAR'}}, {LINES}
        ) where line <> ''
        """
    ).fetchone()[0]
    if landed == total and not undecodable:  # every line an object: nothing to reject
        return total, 0, 0
    con.execute(
        "create or replace temp table _undecodable as "
        "select unnest($n::bigint[]) as line_no, unnest($why::varchar[]) as reason, "
        "unnest($text::varchar[]) as line",
        {"n": [u[0] for u in undecodable or ()], "why": [u[1] for u in undecodable or ()],
         "text": [u[2] for u in undecodable or ()]},
    )
    con.execute(
        f"""
        create or replace temp table _unfit as
        select line_no, line, reason
        from (
            select
                line_no,
                line,
                case
                    when trim(coalesce(line, '')) = '' then 'blank'
                    when contains(line, chr(0)) then 'NUL byte in the line'
                    when not json_valid(line) then 'invalid JSON'
                    when json_type(line) <> 'OBJECT' then 'not a JSON object'
                end as reason
            from (select row_number() over () as line_no, line from {source})
        )
        where reason is not null
        """,
        params,
    )
    # the lines `_sanitize` emptied are rejected, not blank; a NUL byte is kept as U+FFFD
    # (no catalog stores NUL in text)
    con.execute(
        """
        create or replace temp table _unfit as
        select u.line_no, coalesce(d.line, replace(u.line, chr(0), '\ufffd')) as line,
               coalesce(d.reason, u.reason) as reason
        from _unfit as u
        left join _undecodable as d using (line_no)
        """
    )
    con.execute("drop table _undecodable")
    blank, bad = con.execute(
        "select count(*) filter (where reason = 'blank'), count(*) filter (where reason <> 'blank')"
        " from _unfit"
    ).fetchone()
    if bad:
        con.execute(
            f"""
            copy (select line_no, reason, line from _unfit where reason <> 'blank'
                  order by line_no)
            to {literal(rejected_uri)} (format json)
            """
        )
    con.execute("drop table _unfit")
    return total - blank, bad, total - landed


# what reading a file whose bytes are not what its name says raises (bad gzip or zip, a
# truncated stream): the file's fault, not the system's
_UNREADABLE = (zipfile.BadZipFile, EOFError, zlib.error, igzip.BadGzipFile)


def land_object(
    con: duckdb.DuckDBPyConnection, settings: Settings, stream: str, obj: ObjectInfo
) -> list[LandedFile]:
    """Land one source object (every member of a zip) and return what was written. A file
    that cannot be read at all (bad compression or archive) is landed as one rejected line
    with the reason: recorded with its version, so it is not tried again, and a corrected
    upload (a new version) is."""
    try:
        return _land_object(con, settings, stream, obj)
    except (*_UNREADABLE, duckdb.Error) as exc:
        if isinstance(exc, duckdb.Error) and not is_bad_file(exc):
            raise  # not the file's fault: the next run tries it again
        log.warning("%s: unreadable, rejected as a file: %s", obj.uri, first_line(exc))
        return [_reject_file(settings, stream, obj, *_landing_uris(settings, stream, obj, None),
                             f"unreadable file: {first_line(exc)}")]


def _land_object(
    con: duckdb.DuckDBPyConnection, settings: Settings, stream: str, obj: ObjectInfo
) -> list[LandedFile]:
    kind = _kind(obj.uri)
    landed = []
    if kind == "zip":
        with local_copy(settings, obj.uri) as zpath, temp_dir() as tmp:
            with zipfile.ZipFile(zpath) as zf:
                members = [m for m in zf.namelist() if _kind(m) in ("none", "gzip", "parquet")]
                for member in members:
                    target = Path(zf.extract(member, tmp))
                    landed.append(
                        _land(con, settings, stream, obj, str(target), _kind(member), member)
                    )
        return landed
    return [_land(con, settings, stream, obj, obj.uri, kind, None)]


def _landing_uris(settings: Settings, stream: str, obj: ObjectInfo,
                  member: str | None) -> tuple[str, str]:
    """Where an object (or a zip member) lands, and where its rejected lines go."""
    name = landing_name(obj, member)
    return (join(settings.landing_uri, stream, name),
            join(settings.landing_uri, "_rejected", stream, name))


def _land(con, settings, stream, obj, path, compression, member) -> LandedFile:
    landing_uri, rejected_uri = _landing_uris(settings, stream, obj, member)
    for uri in (landing_uri, rejected_uri):
        if not uri.startswith("s3://"):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
    if compression == "parquet":
        return _land_parquet(con, settings, stream, obj, path, landing_uri, rejected_uri)
    limit = settings.max_line_bytes
    try:
        if is_s3(path) or is_s3(landing_uri):
            lines, bad, empty = split_lines(con, path, compression, landing_uri, rejected_uri,
                                            limit)
        else:
            lines, bad, empty = _land_local(con, path, compression, landing_uri, rejected_uri,
                                            limit)
    except duckdb.Error as exc:
        if not any(s in str(exc) for s in _UNDECODABLE):
            raise
        log.warning("%s: undecodable lines, read line by line: %s", obj.uri, first_line(exc))
        with local_copy(settings, path) as local, temp_dir() as tmp:
            clean = tmp / "decodable.jsonl"
            undecodable = _sanitize(local, compression, clean, limit)
            lines, bad, empty = split_lines(con, str(clean), "none", landing_uri, rejected_uri,
                                            limit, undecodable)
    return LandedFile(stream, obj, landing_uri, rejected_uri if bad else None, lines, bad, empty)


def _land_parquet(
    con: duckdb.DuckDBPyConnection, settings: Settings, stream: str, obj: ObjectInfo,
    path: str, landing_uri: str, rejected_uri: str,
) -> LandedFile:
    """Land a Parquet file as it is, its rows counted (a read of its footer that also proves
    it is Parquet DuckDB can read). A file that is not is one invalid line: an empty landing
    JSONL file and a sidecar line with the reason."""
    try:
        rows = con.execute(
            "select count(*) from read_parquet($path, hive_partitioning = false)", {"path": path}
        ).fetchone()[0]
    except duckdb.Error as exc:
        if not is_bad_file(exc):
            raise  # not the file's fault: the next run tries it again
        reason = f"not a Parquet file: {first_line(exc).replace(path, obj.uri)}"
        return _reject_file(settings, stream, obj, landing_uri, rejected_uri, reason)
    copy_file(settings, path, landing_uri)
    return LandedFile(stream, obj, landing_uri, None, rows, 0, 0)


def _reject_file(settings: Settings, stream: str, obj: ObjectInfo, landing_uri: str,
                 rejected_uri: str, reason: str) -> LandedFile:
    """A source file that cannot be read, as one rejected line: an empty landing JSONL file
    and a sidecar line with the reason, so that rows in = loaded + rejected."""
    jsonl = landing_uri.removesuffix(PARQUET_SUFFIX).removesuffix(".jsonl") + ".jsonl"
    rejected = rejected_uri.removesuffix(PARQUET_SUFFIX).removesuffix(".jsonl") + ".jsonl"
    write_bytes(settings, rejected, (json.dumps(
        {"line_no": 1, "reason": reason, "line": None}) + "\n").encode())
    write_bytes(settings, jsonl, b"\n")
    return LandedFile(stream, obj, jsonl, rejected, 1, 1, 1)


# I/O errors that are the file's content: a footer that claims more bytes than there are
_BAD_FILE_IO = ("Could not read enough bytes",)


def is_bad_file(exc: duckdb.Error) -> bool:
    """Whether DuckDB failed because of what a file holds (not Parquet, corrupt, undecodable),
    not because of the system (I/O and network errors, memory, an interrupt), which a retry
    may cure."""
    if isinstance(exc, duckdb.OutOfMemoryException | duckdb.InterruptException
                  | duckdb.HTTPException):
        return False
    if isinstance(exc, duckdb.IOException):
        return any(s in str(exc) for s in _BAD_FILE_IO)
    return True


def _sanitize(src: Path, compression: str, dst: Path,
              max_line_bytes: int) -> list[tuple[int, str, str]]:
    """Copy a JSONL file (decompressed) with each line that cannot be decoded emptied: bytes
    that are not UTF-8, or more than `max_line_bytes` of them; return those lines' (line_no,
    reason, text as far as it decodes). Line N of the copy is line N of the source.

    The slow path (Python per line, a line never held whole beyond the limit) for the rare
    file DuckDB's strict reader refuses; every other file never comes here."""
    opener = igzip.open if compression == "gzip" else open
    found: list[tuple[int, str, str]] = []
    with opener(src, "rb") as f, open(dst, "wb") as out:
        line_no = 0
        while line := f.readline(max_line_bytes + 1):
            line_no += 1
            if not line.endswith(b"\n") and len(line) > max_line_bytes:
                rest = line
                while rest and not rest.endswith(b"\n"):  # skip the rest of the line
                    rest = f.readline(1 << 20)
                text = line[:_KEPT_CHARS].decode(errors="replace").replace("\0", "\ufffd")
                found.append((line_no, f"line too long: over {max_line_bytes} bytes "
                                       "(CLICKLAKE_MAX_LINE_BYTES)", text))
                out.write(b"\n")
                continue
            try:
                line.decode()
            except UnicodeDecodeError as exc:
                text = line[:_KEPT_CHARS].decode(errors="replace").replace("\0", "\ufffd")
                found.append((line_no, f"invalid UTF-8: byte 0x{line[exc.start]:02x} at byte "
                                       f"{exc.start + 1}", text.rstrip("\r\n")))
                out.write(b"\n")
                continue
            out.write(line)
    return found


def _land_local(
    con: duckdb.DuckDBPyConnection, path: str, compression: str, landing_uri: str,
    rejected_uri: str, max_line_bytes: int = MAX_LINE_BYTES,
) -> tuple[int, int, int]:
    """`split_lines` for local files, faster when every line is a JSON object (the usual case).

    The source is decompressed as bytes next to its landing name (ISA-L's gzip, about 2.5x
    zlib's speed, and no Python per line)
    and DuckDB checks the uncompressed lines in parallel; when each one is an object the copy
    simply becomes the landing file, and DuckDB's line-by-line rewrite is needed only for
    files with blank or invalid lines.
    """
    target = Path(landing_uri)
    tmp = target.with_name(f".{target.name}.tmp")
    opener = igzip.open if compression == "gzip" else open
    try:
        with opener(path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        total, objects = con.execute(
            f"""
            select count(*), count(*) filter (where {_IS_OBJECT})
            from read_csv(
                $path, columns = {{'line': 'VARCHAR'}}, {lines_options(max_line_bytes)}
            )
            """,
            {"path": str(tmp)},
        ).fetchone()
        if objects == total:
            os.replace(tmp, target)
            return total, 0, 0
        return split_lines(con, str(tmp), "none", landing_uri, rejected_uri, max_line_bytes)
    finally:
        tmp.unlink(missing_ok=True)


def extract_stream(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    stream: str,
    start: datetime,
    end: datetime,
    run_id: str,
) -> ExtractResult:
    """Land the stream's new source objects for [start, end) and record them in the manifest.

    Safe to retry: landing names are derived from the source object and its etag, so a crash
    before the manifest commit only means the same files are written again.
    """
    result = ExtractResult(stream)
    objects = source_objects(settings, stream, start, end)
    result.listed = len(objects)
    with catalog_read():
        landed = {
            (uri, etag, size)
            for uri, etag, size in con.execute(
                "select source_uri, source_etag, source_size from ops.landed_files "
                "where stream = ?",
                [stream],
            ).fetchall()
        }
    folder = join(settings.source_uri, stream)
    for uri in undated_files(settings, stream):
        log.warning("%s: not read: %s", uri, UNDATED)
        result.refused.append((uri, UNDATED))
    arrived: list[datetime] = []  # when each landed file landed: arrival decides duplicates
    for obj in objects:
        why = unsafe_key(obj.uri, folder)
        if why:
            log.warning("%r: key refused, never read: %s", obj.uri, why)
            result.refused.append((obj.uri, why))
        elif (obj.uri, obj.etag, obj.size) in landed:
            result.skipped += 1
        elif _kind(obj.uri) is None:
            result.ignored.append(obj.uri)
        else:
            with off_catalog(con):
                files = land_object(con, settings, stream, obj)
            for file in files:
                result.landed.append(file)
                # strictly increasing, so that files landed by one run keep their order
                now = datetime.now(UTC)
                arrived.append(max(now, arrived[-1] + timedelta(microseconds=1))
                               if arrived else now)
    if result.landed:
        rows = [
            (f.stream, f.source.uri, f.source.size, f.source.etag, f.landing_uri, f.rejected_uri,
             f.lines_in, f.lines_invalid, run_id, f.lines_blank, at)
            for f, at in zip(result.landed, arrived, strict=True)
        ]
        lines = sum(f.lines_in for f in result.landed)
        message = (f"extract {stream} {folders_of([f.source.uri for f in result.landed])}: "
                   f"{len(result.landed)} files landed, {lines:,} lines")
        extra = {"run_id": run_id, "stream": stream, "files": len(result.landed),
                 "lines_in": lines, "lines_invalid": result.lines_invalid,
                 "window": [start.isoformat(), end.isoformat()]}
        retry_transaction(lambda: _record(con, rows, message, extra))
    return result


def _record(con: duckdb.DuckDBPyConnection, rows: list[tuple], message: str,
            extra: dict) -> None:
    with transaction(con):
        commit_message(con, message, **extra)
        con.executemany(
            """
            insert into ops.landed_files (stream, source_uri, source_size, source_etag,
                landing_uri, rejected_uri, lines_in, lines_invalid, run_id, lines_blank,
                landed_at)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            rows,
        )
