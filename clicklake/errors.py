"""What a user is told when a command fails: one line that names the path and what to do.

A read-only or full disk, a folder that cannot be written, a file where a folder should be, a
catalog that cannot be opened: each becomes one line, never a traceback, and no line (nor the
traceback `CLICKLAKE_DEBUG=1` prints) ever holds a password or secret key.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb

from clicklake.config import ConfigError, Settings
from clicklake.lake import LakeError, first_line, redact

_READ_ONLY = "the file system is read-only: mount it read-write"
_FULL = "the disk is full: free some space, or move the lake to a larger disk"
_DENIED = "permission denied: make it writable for this user"
_NOT_A_FOLDER = "a file stands where a folder is expected: move it away"
# what to do, by errno (OSError) or by the text of a DuckDB or SQLite message
_HINTS = {
    errno.EROFS: _READ_ONLY,
    errno.ENOSPC: _FULL,
    errno.EDQUOT: _FULL,
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.ENOTDIR: _NOT_A_FOLDER,
}
_TEXT_HINTS = {
    "read-only file system": _READ_ONLY,
    "no space left on device": _FULL,
    "disk quota exceeded": _FULL,
    "database or disk is full": _FULL,
    "permission denied": _DENIED,
    "not a directory": _NOT_A_FOLDER,
}
# the settings that name a place, most specific first
_PLACES = (("landing_uri", "CLICKLAKE_LANDING_URI"), ("data_path", "CLICKLAKE_DATA_PATH"),
           ("source_uri", "CLICKLAKE_SOURCE_URI"), ("home", "CLICKLAKE_HOME"))


def one_line(exc: BaseException, settings: Settings | None) -> str:
    """The error as one line for a user: what failed, on which path, and what to do."""
    if isinstance(exc, sqlite3.Error):  # only the embedded catalog is opened with sqlite3
        path = _catalog_file(settings)
        where = f"the SQLite catalog {path}" if path else "the SQLite catalog"
        hint = _folder_hint(path.parent) if path else None
        hint = hint or _text_hint(str(exc))
        return _join(f"cannot use {where}: {first_line(exc)}", hint, path, settings)
    if isinstance(exc, OSError) and exc.errno is not None:
        path = exc.filename
        what = exc.strerror or first_line(exc)
        hint = _HINTS.get(exc.errno)
        text = f"{path}: {what}" if path else what
        return _join(text, hint, Path(str(path)) if path else None, settings)
    text = redact(first_line(exc))
    if isinstance(exc, LakeError | ConfigError | ValueError | OSError | duckdb.Error):
        return _join(text, _text_hint(text), None, settings)
    return f"{type(exc).__name__}: {text} (CLICKLAKE_DEBUG=1 shows where it happened)"


def scrub(text: str, settings: Settings | None) -> str:
    """`text` with every password and secret key of the settings (or, when they could not be
    loaded, of the environment) replaced by `***`, besides `redact`'s patterns."""
    text = redact(text)
    for secret in _secrets(settings):
        text = text.replace(secret, "***")
    return text


def _secrets(settings: Settings | None) -> set[str]:
    if settings is not None:
        catalog, key = settings.catalog, settings.s3_secret_access_key
    else:
        catalog = os.environ.get("CLICKLAKE_CATALOG", "")
        key = os.environ.get("CLICKLAKE_S3_SECRET_ACCESS_KEY", "")
    found = {key}
    if "://" in catalog:
        try:
            password = urlparse(catalog).password or ""
        except ValueError:
            password = ""
        found |= {password, unquote(password)}
    # a password shorter than this would turn ordinary words into *** (and tells little)
    return {s for s in found if len(s) >= 4}


def _join(text: str, hint: str | None, path: Path | None, settings: Settings | None) -> str:
    if not hint:
        return text
    setting = _setting_for(path, settings) if path else None
    where = f", or point {setting} at another place" if setting else ""
    return f"{text} ({hint}{where})"


def _text_hint(text: str) -> str | None:
    low = text.lower()
    return next((hint for needle, hint in _TEXT_HINTS.items() if needle in low), None)


def _folder_hint(folder: Path) -> str | None:
    """Why `folder` (or its nearest existing parent) cannot be written, if it cannot."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    if stat.f_flag & os.ST_RDONLY:
        return (f"{folder} is on a read-only file system: a SQLite catalog writes its -wal and "
                "-shm files beside it even to read; mount it read-write, or copy the lake to a "
                "writable folder")
    if not os.access(folder, os.W_OK):
        return f"{folder} is not writable for this user: a SQLite catalog writes beside itself"
    if stat.f_bavail == 0:
        return _FULL
    return None


def _catalog_file(settings: Settings | None) -> Path | None:
    if settings is None:
        return None
    try:
        kind, _, target = settings.ducklake_catalog().partition(":")
    except ConfigError:
        return None
    return Path(target) if kind in ("sqlite", "duckdb") else None


def _setting_for(path: Path, settings: Settings | None) -> str | None:
    """The setting that names the place `path` lies in (CLICKLAKE_HOME for the rest)."""
    if settings is None:
        return None
    catalog = _catalog_file(settings)
    if catalog and (path == catalog or path.parent == catalog.parent and
                    path.name.startswith(catalog.name)):
        return "CLICKLAKE_CATALOG" if os.environ.get("CLICKLAKE_CATALOG") else "CLICKLAKE_HOME"
    for name, var in _PLACES:
        place = str(getattr(settings, name))
        if place and not place.startswith("s3://") and str(path).startswith(place):
            return var
    return None
