"""Getting a deployment ready: the lake exists and the pipeline can reach everything it needs.

`docker compose` starts the Airflow services only after `clicklake init --wait N` has succeeded
in `airflow-init`, so a wrong password, a missing bucket or a storage node that is still
starting shows up there, once, in one line, instead of as failed tasks later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import botocore.exceptions
import duckdb

from clicklake import storage
from clicklake.config import Settings
from clicklake.lake import LakeError, connect, first_line, redact

log = logging.getLogger(__name__)

# what a storage node that is still starting (or misconfigured) raises
_NOT_READY = (LakeError, duckdb.Error, OSError, botocore.exceptions.BotoCoreError,
              botocore.exceptions.ClientError)


def check_lake(settings: Settings) -> str:
    """Create the lake if it is missing and prove the pipeline can use it; return a summary.

    Opens the lake as a writer (which creates the catalog, the schemas and the raw and ops
    tables), reads it back, lists the source and writes and deletes a probe object where
    extract lands files. Raises whatever the first failing step raised.
    """
    con = connect(settings=settings)
    try:
        tables = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'lake'"
        ).fetchone()[0]
    finally:
        con.close()
    if storage.is_s3(settings.source_uri):  # one page is enough to prove the bucket is readable
        bucket, _, key = settings.source_uri.removeprefix("s3://").partition("/")
        storage.s3_client(settings).list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    probe = storage.join(settings.landing_uri, "_clicklake_init_probe")
    storage.write_bytes(settings, probe, b"ok\n")
    storage.delete(settings, probe)
    return (f"lake ready: {tables} tables; source {settings.source_uri} readable, landing "
            f"{settings.landing_uri} writable, data in {settings.data_path}")


def init_lake(
    settings: Settings,
    wait_s: float = 0.0,
    on_retry: Callable[[str], None] | None = None,
    interval_s: float = 2.0,
) -> str:
    """`check_lake`, retried every `interval_s` for up to `wait_s` seconds while the catalog or
    the object store is not reachable yet; then the last error is raised as a `LakeError`
    whose message says what was being waited for."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return check_lake(settings)
        except _NOT_READY as exc:
            reason = redact(first_line(exc))
            if time.monotonic() >= deadline:
                raise LakeError(f"the lake is not ready after {wait_s:.0f}s: {reason}") from exc
            if on_retry:
                on_retry(reason)
            time.sleep(interval_s)
