"""Plain object storage: local folders or any S3 endpoint (MinIO, AWS, moto), one interface.

DuckDB reads and writes the data itself (through httpfs for `s3://`); this module only lists
objects with their size and etag, and moves the few small files DuckDB cannot handle alone
(zip members, sidecars). The code never knows which S3 server it talks to.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from clicklake.config import Settings


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    etag: str


def join(base: str, *parts: str) -> str:
    """Join URI parts with `/`, for folders and buckets alike."""
    out = base.rstrip("/")
    for part in parts:
        out += "/" + part.strip("/")
    return out


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@lru_cache(maxsize=8)
def _client(endpoint: str, key_id: str, secret: str, region: str, url_style: str):
    import boto3
    from botocore.config import Config

    style = "path" if url_style == "path" else "virtual"
    return boto3.client(
        "s3",
        endpoint_url=endpoint or None,
        aws_access_key_id=key_id or None,
        aws_secret_access_key=secret or None,
        region_name=region,
        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 5}),
    )


def s3_client(settings: Settings):
    """A boto3 S3 client for the configured endpoint (cached per configuration)."""
    return _client(
        settings.s3_endpoint,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
        settings.s3_region,
        settings.s3_url_style,
    )


def list_objects(settings: Settings, prefix: str) -> list[ObjectInfo]:
    """Every object below `prefix` (recursive), sorted by URI; an absent prefix lists nothing."""
    if is_s3(prefix):
        bucket, key = _split(prefix)
        key = key.rstrip("/") + "/" if key else ""
        pages = s3_client(settings).get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=key
        )
        found = [
            ObjectInfo(f"s3://{bucket}/{o['Key']}", o["Size"], o["ETag"].strip('"'))
            for page in pages
            for o in page.get("Contents", [])
        ]
        return sorted(found, key=lambda o: o.uri)
    root = Path(prefix)
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            found.append(ObjectInfo(str(path), stat.st_size, _local_etag(path, stat)))
    return sorted(found, key=lambda o: o.uri)


def list_folder(settings: Settings, prefix: str) -> tuple[list[str], list[str]]:
    """The names of the sub-folders directly below `prefix` and the URIs of the files directly
    in it, both sorted (one listing call per thousand entries on S3: keys are grouped by `/`).
    Hidden local files (`.name`) are left out, as `list_objects` leaves them out."""
    if is_s3(prefix):
        bucket, key = _split(prefix)
        key = key.rstrip("/") + "/" if key else ""
        pages = s3_client(settings).get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=key, Delimiter="/"
        )
        folders, files = [], []
        for page in pages:
            folders += [p["Prefix"][len(key):].rstrip("/") for p in page.get("CommonPrefixes", [])]
            files += [f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", [])
                      if not o["Key"].endswith("/")]  # a folder marker is no file
        return sorted(folders), sorted(files)
    root = Path(prefix)
    if not root.is_dir():
        return [], []
    entries = sorted(root.iterdir())
    return ([p.name for p in entries if p.is_dir()],
            [str(p) for p in entries if p.is_file() and not p.name.startswith(".")])


def list_uris(settings: Settings, prefix: str) -> list[str]:
    """The URIs of every object below `prefix` (recursive), sorted: `list_objects` without the
    etags, so a local file is not read to hash it."""
    if is_s3(prefix):
        bucket, key = _split(prefix)
        key = key.rstrip("/") + "/" if key else ""
        pages = s3_client(settings).get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=key
        )
        return sorted(f"s3://{bucket}/{o['Key']}" for page in pages
                      for o in page.get("Contents", []) if not o["Key"].endswith("/"))
    root = Path(prefix)
    if not root.is_dir():
        return []
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


_ETAGS: dict[tuple[str, int, int], str] = {}


def _local_etag(path: Path, stat: os.stat_result) -> str:
    """Like S3's etag, the MD5 of the content: rewriting identical bytes is no new version.

    Every run lists its lookback window again; a file whose size and mtime have not changed
    since this process hashed it is not read again.
    """
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    etag = _ETAGS.get(key)
    if etag is None:
        digest = hashlib.md5()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        etag = digest.hexdigest()
        if len(_ETAGS) > 100_000:  # a long-lived process must not grow without bound
            _ETAGS.clear()
        _ETAGS[key] = etag
    return etag


def read_bytes(settings: Settings, uri: str) -> bytes:
    if is_s3(uri):
        bucket, key = _split(uri)
        return s3_client(settings).get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(uri).read_bytes()


def write_bytes(settings: Settings, uri: str, data: bytes) -> None:
    if is_s3(uri):
        bucket, key = _split(uri)
        s3_client(settings).put_object(Bucket=bucket, Key=key, Body=data)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: a crash never leaves half a file behind


def copy_file(settings: Settings, source: str, target: str) -> None:
    """Copy an object or local file as it is, between any two of local and S3 (server-side
    between S3 objects). A local target appears whole or not at all."""
    if is_s3(target):
        bucket, key = _split(target)
        if is_s3(source):
            src_bucket, src_key = _split(source)
            s3_client(settings).copy({"Bucket": src_bucket, "Key": src_key}, bucket, key)
        else:
            s3_client(settings).upload_file(source, bucket, key)
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if is_s3(source):
            bucket, key = _split(source)
            s3_client(settings).download_file(bucket, key, str(tmp))
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def delete(settings: Settings, uri: str) -> None:
    if is_s3(uri):
        bucket, key = _split(uri)
        s3_client(settings).delete_object(Bucket=bucket, Key=key)
    else:
        remove(uri)


def remove(uri: str) -> None:
    """Delete a local file that DuckDB wrote and nothing references. An S3 object is left to
    `clicklake maintain`, which deletes data files no snapshot knows once they are old."""
    if not is_s3(uri):
        Path(uri).unlink(missing_ok=True)


def ensure_folder(uri: str) -> None:
    """Create a local folder for a URI that DuckDB will write into (no-op on S3)."""
    if not is_s3(uri):
        Path(uri).mkdir(parents=True, exist_ok=True)


@contextmanager
def local_copy(settings: Settings, uri: str) -> Iterator[Path]:
    """A local path holding the object's bytes, for the few readers that need a real file."""
    if not is_s3(uri):
        yield Path(uri)
        return
    with tempfile.TemporaryDirectory(prefix="clicklake-") as tmp:
        path = Path(tmp) / Path(uri).name
        path.write_bytes(read_bytes(settings, uri))
        yield path


@contextmanager
def temp_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="clicklake-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
