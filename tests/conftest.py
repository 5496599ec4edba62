"""Test services, started for real: a private PostgreSQL cluster and an S3 server (moto).

Both listen on free 127.0.0.1 ports, start once per test session when a test asks for them,
and are stopped whatever happens. The pipeline is never told it talks to moto: it gets an
endpoint, keys and path-style URLs, as it would for MinIO or AWS.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from uuid import uuid4

import pytest
from support import free_port, stop

PG_VERSION = "15"
PG_USER, PG_PASSWORD = "clicklake", "clicklake-test-pw"
S3_KEY, S3_SECRET, S3_REGION = "clicklake-test", "clicklake-test-secret", "us-east-1"
START_TIMEOUT_S = 30


def _wait_for_port(port: int, proc: subprocess.Popen | None, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
    pytest.fail(f"{what} did not start on 127.0.0.1:{port}\n{tail}", pytrace=False)


# -- PostgreSQL -------------------------------------------------------------------------------


def _pg_bindir() -> Path:
    for candidate in (Path(f"/usr/lib/postgresql/{PG_VERSION}/bin"),
                      *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)):
        if (candidate / "initdb").is_file():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    pytest.fail(
        "the tests need PostgreSQL's server binaries (initdb, pg_ctl): run `make test`, which "
        "installs them, or `apt-get install postgresql`",
        pytrace=False,
    )


@dataclass
class PostgresCluster:
    """A running private cluster; `new_database()` gives a fresh, empty database's URL."""

    port: int
    user: str = PG_USER
    password: str = PG_PASSWORD
    host: str = "127.0.0.1"
    _numbers: Iterator[int] = field(default_factory=lambda: count(1), repr=False)

    def dsn(self, dbname: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    def new_database(self) -> str:
        """Create a uniquely named database and return its `postgresql://` URL."""
        import psycopg2

        name = f"lake_{next(self._numbers)}_{uuid4().hex[:6]}"
        con = psycopg2.connect(self.dsn("postgres"))
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'create database "{name}"')
        finally:
            con.close()
        return self.dsn(name)


def _as_postgres_user() -> tuple[list[str], str | None]:
    """The command prefix that runs the server binaries (which refuse root) and their owner."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root needs the `postgres` OS user: apt-get install postgresql",
                    pytrace=False)
    return ["runuser", "-u", "postgres", "--"], "postgres"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster with password auth on a free 127.0.0.1 port."""
    bindir = _pg_bindir()
    prefix, owner = _as_postgres_user()
    root = Path(tempfile.mkdtemp(prefix="clicklake-pg-"))
    data, log, pwfile = root / "data", root / "postgres.log", root / "pwfile"
    pwfile.write_text(PG_PASSWORD + "\n")
    if owner:
        shutil.chown(root, owner)
        shutil.chown(pwfile, owner)
    port = free_port()
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", PG_USER,
             f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C"],
            check=True, capture_output=True, text=True,
        )
        # a throwaway cluster: durability settings off, socket in our own folder, TCP only local
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run([*pg_ctl, "-l", str(log), "-o", options, "-w", "-t",
                        str(START_TIMEOUT_S), "start"], check=True, capture_output=True, text=True)
        _wait_for_port(port, None, "PostgreSQL", log)
        yield PostgresCluster(port)
    except subprocess.CalledProcessError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        pytest.fail(f"PostgreSQL failed: {' '.join(exc.cmd[:4])}...: {exc.stderr}\n{tail}",
                    pytrace=False)
    finally:
        if (data / "postmaster.pid").exists():  # also after a start that timed out
            subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# -- S3 (moto server) -------------------------------------------------------------------------


@dataclass
class S3Server:
    """A running S3-compatible server; plain S3 settings, nothing moto-specific."""

    endpoint: str
    access_key: str = S3_KEY
    secret_key: str = S3_SECRET
    region: str = S3_REGION

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self, prefix: str = "clicklake") -> str:
        """Create a uniquely named, empty bucket and return its name."""
        name = f"{prefix}-{uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name

    def upload_folder(self, folder: Path, uri: str) -> int:
        """Copy every file under a local folder to `s3://bucket/prefix`, keeping relative paths;
        return how many files were uploaded."""
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        client, n = self.client(), 0
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            key = "/".join(x for x in (prefix.strip("/"), path.relative_to(folder).as_posix()) if x)
            client.upload_file(str(path), bucket, key)
            n += 1
        return n

    def env(self) -> dict[str, str]:
        """The CLICKLAKE_S3_* settings that point the pipeline at this server."""
        return {
            "CLICKLAKE_S3_ENDPOINT": self.endpoint,
            "CLICKLAKE_S3_ACCESS_KEY_ID": self.access_key,
            "CLICKLAKE_S3_SECRET_ACCESS_KEY": self.secret_key,
            "CLICKLAKE_S3_REGION": self.region,
            "CLICKLAKE_S3_URL_STYLE": "path",
        }


@pytest.fixture(scope="session")
def s3(tmp_path_factory) -> Iterator[S3Server]:
    """moto's S3 server in its own process on a free 127.0.0.1 port."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET,
           "AWS_DEFAULT_REGION": S3_REGION}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    try:
        _wait_for_port(port, proc, "the S3 server (moto)", log)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        stop(proc)


def servers_env(home: Path, postgres: PostgresCluster, s3: S3Server) -> dict[str, str]:
    """CLICKLAKE_* settings for the servers mode under `home`: a fresh Postgres catalog
    database, a source bucket and a lake bucket (landing + data); no `.env` file is read."""
    source, lake = s3.new_bucket("source"), s3.new_bucket("lake")
    return {
        "CLICKLAKE_HOME": str(home),
        "CLICKLAKE_ENV_FILE": "/nonexistent",
        "CLICKLAKE_CATALOG": postgres.new_database(),
        "CLICKLAKE_SOURCE_URI": f"s3://{source}/source",
        "CLICKLAKE_LANDING_URI": f"s3://{lake}/landing",
        "CLICKLAKE_DATA_PATH": f"s3://{lake}/lake",
        **s3.env(),
    }


@pytest.fixture
def server_env(tmp_path, postgres, s3) -> dict[str, str]:
    """The servers-mode settings of `servers_env` for one test (CLICKLAKE_HOME=tmp_path)."""
    return servers_env(tmp_path, postgres, s3)


@pytest.fixture(scope="session")
def new_server_env(postgres, s3) -> Callable[[Path], dict[str, str]]:
    """`new_server_env(home)`: fresh servers-mode settings, for fixtures wider than a test."""
    return lambda home: servers_env(home, postgres, s3)
