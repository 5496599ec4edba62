"""One typed settings object for the CLI, the DAGs, the dashboard, the notebooks and the tests.

Settings resolve in one order: the process environment, then a `.env` file in the working
directory (or the file named by `CLICKLAKE_ENV_FILE`), then the defaults below. With nothing
set, everything lives under `./.clicklake` (the embedded mode). Point `CLICKLAKE_CATALOG` at a
Postgres DSN and the URIs at `s3://` buckets and the same code runs on servers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import unquote, urlparse

# the project's SQL: models, checks, source formats (CLICKLAKE_SQL_DIR points at another copy)
# An installed wheel carries it as package data, `clicklake/sql`; a source checkout (and its
# editable install) has it beside the package.
_PACKAGED_SQL = Path(__file__).resolve().parent / "sql"
SQL_DIR = Path(os.environ.get("CLICKLAKE_SQL_DIR") or (
    _PACKAGED_SQL if _PACKAGED_SQL.is_dir() else Path(__file__).resolve().parents[1] / "sql"))


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Every setting ClickLake reads; `.env.example` documents each one."""

    home: Path = Path(".clicklake")
    source_uri: str = ""
    landing_uri: str = ""
    data_path: str = ""
    catalog: str = field(default="", repr=False)  # a Postgres URL holds its password
    s3_endpoint: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = field(default="", repr=False)
    s3_region: str = "us-east-1"
    s3_url_style: str = "path"
    timezone: str = "UTC"
    currency: str = "EUR"  # ISO 4217 code: how the dashboard and notebooks write money
    lookback_hours: int = 48
    workers: int = 4
    memory_limit: str = "1536MB"
    max_active_runs: int = 2
    retry_delay_seconds: int = 30
    schedule_start: str = "2024-03-01T00"
    # Airflow: catch up every hour since schedule_start when unpaused (history: backfill), and
    # the longest a task may run before Airflow stops it and retries
    catchup: bool = False
    task_timeout_minutes: int = 30
    snapshot_retention_hours: int = 168
    landing_retention_days: int = 30
    # bad input: the longest source line read (longer ones are rejected lines), and the
    # plausible event times (earlier, or later than the file's arrival + the hours: rejected)
    max_line_bytes: int = 64 * 1024 * 1024
    earliest_event_date: str = "2000-01-01"
    future_event_hours: int = 24
    # every stream the source formats declare (sql/sources/*/source.toml)
    streams: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Derived defaults all hang off CLICKLAKE_HOME so one variable moves the whole lake.
        # absolute, so the data path stored in the catalog opens from any working directory
        home = Path(self.home).expanduser().absolute()
        object.__setattr__(self, "home", home)
        defaults = {
            "source_uri": str(home / "source"),
            "landing_uri": str(home / "landing"),
            "data_path": str(home / "lake"),
            "catalog": f"sqlite:{home / 'catalog.sqlite'}",
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        if not self.streams:
            from clicklake.sources import streams

            object.__setattr__(self, "streams", streams())
        minimum = {"lookback_hours": 0, "workers": 1, "max_active_runs": 1,
                   "retry_delay_seconds": 0, "task_timeout_minutes": 1,
                   "snapshot_retention_hours": 0,
                   "landing_retention_days": 0, "max_line_bytes": 1024,
                   "future_event_hours": 0}
        for name, low in minimum.items():
            if getattr(self, name) < low:
                raise ConfigError(f"{_ENV_NAMES[name]} must be >= {low}, not {getattr(self, name)}")
        _check_timezone(self.timezone)
        object.__setattr__(self, "currency", self.currency.strip().upper())
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ConfigError(f"CLICKLAKE_CURRENCY={self.currency!r} is not an ISO 4217 currency "
                              "code (three capital letters, e.g. EUR or USD)")

    @property
    def catalog_is_postgres(self) -> bool:
        return self.catalog.startswith(("postgres:", "postgresql:", "postgres://"))

    def ducklake_catalog(self) -> str:
        """The catalog as DuckLake's ATTACH wants it: `sqlite:<file>`, `duckdb:<file>` or
        `postgres:<libpq key=value string>` (a `postgresql://` URL is converted)."""
        cat = self.catalog
        if cat.startswith(("postgresql://", "postgres://")):
            return "postgres:" + _libpq_from_url(cat)
        if cat.startswith(("sqlite:", "duckdb:", "postgres:")):
            return cat
        raise ConfigError(
            f"CLICKLAKE_CATALOG={cat!r} is not understood: use sqlite:<file>, duckdb:<file> "
            "or postgresql://user:password@host:port/db"
        )

    def uses_s3(self) -> bool:
        uris = (self.source_uri, self.landing_uri, self.data_path)
        return any(u.startswith("s3://") for u in uris)


_ENV_NAMES = {
    "home": "CLICKLAKE_HOME",
    "source_uri": "CLICKLAKE_SOURCE_URI",
    "landing_uri": "CLICKLAKE_LANDING_URI",
    "data_path": "CLICKLAKE_DATA_PATH",
    "catalog": "CLICKLAKE_CATALOG",
    "s3_endpoint": "CLICKLAKE_S3_ENDPOINT",
    "s3_access_key_id": "CLICKLAKE_S3_ACCESS_KEY_ID",
    "s3_secret_access_key": "CLICKLAKE_S3_SECRET_ACCESS_KEY",
    "s3_region": "CLICKLAKE_S3_REGION",
    "s3_url_style": "CLICKLAKE_S3_URL_STYLE",
    "timezone": "CLICKLAKE_TIMEZONE",
    "currency": "CLICKLAKE_CURRENCY",
    "lookback_hours": "CLICKLAKE_LOOKBACK_HOURS",
    "workers": "CLICKLAKE_WORKERS",
    "memory_limit": "CLICKLAKE_MEMORY_LIMIT",
    "max_active_runs": "CLICKLAKE_MAX_ACTIVE_RUNS",
    "retry_delay_seconds": "CLICKLAKE_RETRY_DELAY_SECONDS",
    "schedule_start": "CLICKLAKE_SCHEDULE_START",
    "catchup": "CLICKLAKE_CATCHUP",
    "task_timeout_minutes": "CLICKLAKE_TASK_TIMEOUT_MINUTES",
    "snapshot_retention_hours": "CLICKLAKE_SNAPSHOT_RETENTION_HOURS",
    "landing_retention_days": "CLICKLAKE_LANDING_RETENTION_DAYS",
    "max_line_bytes": "CLICKLAKE_MAX_LINE_BYTES",
    "earliest_event_date": "CLICKLAKE_EARLIEST_EVENT_DATE",
    "future_event_hours": "CLICKLAKE_FUTURE_EVENT_HOURS",
}


def _check_timezone(name: str) -> None:
    """Refuse a reporting time zone DuckDB does not know, before anything runs (the stage and
    mart SQL would otherwise fail after extract and load had committed)."""
    if name == "UTC":
        return
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("select timezone($tz, timestamptz '2024-01-01 00:00:00+00')", {"tz": name})
    except duckdb.Error as exc:
        hint = str(exc).partition("Candidate time zones:")[2].strip()
        raise ConfigError(
            f"CLICKLAKE_TIMEZONE={name!r} is not a time zone: use an IANA name such as "
            f"Europe/Berlin{f' (close: {hint})' if hint else ''}"
        ) from None
    finally:
        con.close()


def _libpq_quote(value: object) -> str:
    """A libpq connection-string value; one with spaces, quotes, backslashes or other special
    characters is quoted (`'...'`, with `\\` and `'` escaped) so it stays one value."""
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9._@:/+-]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _libpq_from_url(url: str) -> str:
    u = urlparse(url)
    try:
        port = u.port
    except ValueError:
        raise ConfigError(
            "CLICKLAKE_CATALOG has a malformed port: use postgresql://user:password@host:port/db "
            "(percent-encode special characters in the password, e.g. @ as %40)"
        ) from None
    parts = {
        "host": unquote(u.hostname) if u.hostname else None,
        "port": port,
        "user": unquote(u.username) if u.username else None,
        "password": unquote(u.password) if u.password else None,
        "dbname": unquote(u.path.lstrip("/")) or None,
    }
    return " ".join(f"{k}={_libpq_quote(v)}" for k, v in parts.items() if v)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a `.env` file: `KEY=value` lines, `#` comments, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build the settings from `env` (default: the process environment) over the `.env` file."""
    environ = dict(os.environ if env is None else env)
    env_file = Path(environ.get("CLICKLAKE_ENV_FILE", ".env"))
    merged = {**read_env_file(env_file), **environ}
    kwargs: dict[str, object] = {}
    types = {f.name: f.type for f in fields(Settings)}
    for name, var in _ENV_NAMES.items():
        value = merged.get(var, "").strip()
        if not value:
            continue
        if types[name] in ("bool", bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ConfigError(f"{var}={value!r} is not true or false")
            kwargs[name] = value.lower() in ("true", "1", "yes")
        elif types[name] in ("int", int):
            try:
                kwargs[name] = int(value)
            except ValueError as exc:
                raise ConfigError(f"{var}={value!r} is not a whole number") from exc
        else:
            kwargs[name] = value
    return Settings(**kwargs)  # type: ignore[arg-type]
