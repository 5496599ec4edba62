"""The docker compose deployment is right without a Docker engine: the files parse, name every
service, read only documented variables, build from files that exist, publish distinct ports,
pin their images, and every command a ClickLake container runs is run here natively."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from uuid import uuid4

import pytest
import yaml
from support import free_port

from clicklake.config import load_settings, read_env_file
from clicklake.lake import connect

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "docker-compose.yml"
STORAGE = ROOT / "minio" / "docker-compose.yml"
ENV_EXAMPLE = read_env_file(ROOT / ".env.example")
BIN = Path(sys.executable).parent  # the .venv's bin: where `make demo` installs the commands

STORAGE_SERVICES = {"postgres", "minio", "minio-init"}
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler",
                    "airflow-dag-processor", "airflow-triggerer", "airflow-worker"}
REQUIRED = STORAGE_SERVICES | AIRFLOW_SERVICES | {"redis", "streamlit", "notebook"}
# the test below that runs each ClickLake-image service's command natively
NATIVE_RUN = {
    "airflow-init": "test_airflow_init_steps_run_natively_and_create_the_lake",
    "airflow-apiserver": "test_airflow_commands_and_health_checks_parse_with_the_installed_airflow",
    "airflow-scheduler": "test_airflow_commands_and_health_checks_parse_with_the_installed_airflow",
    "airflow-dag-processor":
        "test_airflow_commands_and_health_checks_parse_with_the_installed_airflow",
    "airflow-triggerer": "test_airflow_commands_and_health_checks_parse_with_the_installed_airflow",
    "airflow-worker": "test_airflow_commands_and_health_checks_parse_with_the_installed_airflow",
    "streamlit": "test_the_streamlit_command_serves_the_dashboard_health_check",
    "notebook": "test_the_notebook_command_serves_jupyter_with_the_examples",
}
_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _services(path: Path) -> dict[str, dict]:
    """The file's services with `extends` resolved the way compose does for these keys: the
    base service, then the service's own keys (mappings merged, everything else replaced)."""
    services = {}
    for name, svc in _load(path)["services"].items():
        svc = dict(svc)
        ext = svc.pop("extends", None)
        if ext:
            base = dict(_services(path.parent / ext["file"])[ext["service"]])
            base["_dir"] = base.get("_dir", (path.parent / ext["file"]).parent)
            for key, value in svc.items():
                merged = isinstance(value, dict) and isinstance(base.get(key), dict)
                base[key] = {**base[key], **value} if merged else value
            svc = base
        svc.setdefault("_dir", path.parent)
        services[name] = svc
    return services


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def _resolve(text: str, env: dict[str, str] | None = None) -> str:
    """Interpolate like compose with a `.env` copied from `.env.example` (`$$` is a `$`)."""
    env = ENV_EXAMPLE if env is None else env

    def one(m: re.Match) -> str:
        value = env.get(m.group(1))
        if m.group(2) == ":-" and not value:
            return m.group(3)
        if m.group(2) == "-" and value is None:
            return m.group(3)
        return value or ""

    return _VAR.sub(one, text).replace("$$", "$")


def _env(svc: dict, env: dict[str, str] | None = None) -> dict[str, str]:
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: _resolve(str(v), env) for k, v in raw.items()}


def _command(svc: dict) -> list[str]:
    cmd = svc.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def _ours(services: dict[str, dict]) -> dict[str, dict]:
    """The services that run the image built from docker/Dockerfile."""
    return {n: s for n, s in services.items() if "build" in s}


def _get(url: str, timeout_s: float, proc: subprocess.Popen) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status, r.read()
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _serve(
    argv: list[str], url: str, cwd: Path, env: dict[str, str], then: str | None = None
) -> tuple[int, bytes]:
    """Start a server command natively, GET `url` once it answers (then `then`), stop it."""
    proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        status, body = _get(url, 60, proc)
        return _get(then, 10, proc) if then else (status, body)
    except OSError as exc:
        proc.kill()
        err = proc.communicate()[1].decode(errors="replace")[-1500:]
        raise AssertionError(f"{argv[0]} did not answer at {url}: {exc}\n{err}") from None
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- the files -----------------------------------------------------------------------------------


def test_both_files_parse_and_name_every_service_of_the_deployment():
    assert set(_services(MAIN)) >= REQUIRED
    assert set(_services(STORAGE)) == STORAGE_SERVICES


def test_every_variable_either_file_reads_is_documented_in_env_example():
    used = {m.group(1) for path in (MAIN, STORAGE) for s in _strings(_load(path))
            for m in _VAR.finditer(s)}
    bare = {m.group(1) for path in (MAIN, STORAGE) for s in _strings(_load(path))
            for m in re.finditer(r"(?<!\$)\$([A-Za-z_]\w*)", s)}
    assert used >= {"POSTGRES_ADDRESS", "MINIO_ENDPOINT", "AIRFLOW_JWT_SECRET"}
    assert not bare, f"bare $VAR (write ${{VAR}}, or $$ for the container's shell): {bare}"
    assert not used - set(ENV_EXAMPLE), f"not in .env.example: {sorted(used - set(ENV_EXAMPLE))}"
    text = (ROOT / ".env.example").read_text()
    for var in used:  # each one with a comment just above it (or above its group)
        block = text[: text.index(f"\n{var}=")].rsplit("\n\n", 1)[-1]
        assert "# " in block, f"{var} has no comment in .env.example"


def test_the_scripts_get_every_variable_they_read_from_their_service():
    storage = _services(STORAGE)
    buckets = (ROOT / "minio" / "init" / "buckets.sh").read_text()
    required = set(re.findall(r"\$\{(\w+):\?\}", buckets))
    assert required and required <= set(_env(storage["minio-init"]))
    init = (ROOT / "minio" / "postgres" / "init.sh").read_text()
    read = set(re.findall(r"\"\$([A-Z_]+)\"", init))
    assert {"CATALOG_READER_PASSWORD", "POSTGRES_USER"} <= read <= set(_env(storage["postgres"]))


def test_every_build_context_dockerfile_and_mounted_file_exists():
    for path in (MAIN, STORAGE):
        for name, svc in _services(path).items():
            if "build" in svc:
                context = svc["_dir"] / svc["build"]["context"]
                dockerfile = context / svc["build"]["dockerfile"]
                assert context.is_dir() and dockerfile.is_file(), name
                for src in re.findall(r"^COPY (.+) \S+$", dockerfile.read_text(), re.M):
                    assert all((context / s).exists() for s in src.split()), (name, src)
            for volume in svc.get("volumes", []):
                host = volume.split(":")[0]
                if host.startswith("."):
                    assert (svc["_dir"] / host).exists(), (name, volume)
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "pip install -e '.[apps]'" in dockerfile  # as `make demo` installs it
    assert "INSTALL" not in dockerfile.replace("pip install", "")
    assert "streamlit/app.py" in " ".join(_command(_services(MAIN)["streamlit"]))
    assert (ROOT / "streamlit" / "app.py").is_file()


def test_host_ports_do_not_collide_and_each_ui_is_where_the_readme_says():
    published: dict[tuple[str, str], str] = {}
    for name, svc in _services(MAIN).items():
        for port in svc.get("ports", []):
            ip, host, container = _resolve(str(port)).rsplit(":", 2)
            assert (ip, host) not in published, f"{name} and {published[(ip, host)]} use {host}"
            published[(ip, host)] = name
    ports = {name: host for (_, host), name in published.items() if name != "minio"}
    assert ports == {"airflow-apiserver": "8080", "streamlit": "8501", "notebook": "8888",
                     "postgres": "5432"}
    assert {h for (_, h), n in published.items() if n == "minio"} == {"9000", "9001"}
    worker = _services(MAIN)["airflow-worker"]
    assert "ports" not in worker and "container_name" not in worker  # --scale airflow-worker=N


def test_every_image_is_pinned_to_a_version():
    for path in (MAIN, STORAGE):
        for name, svc in _services(path).items():
            image = _resolve(svc["image"])
            repo, _, tag = image.rpartition(":")
            assert repo and "/" not in tag and tag != "latest" and re.search(r"\d", tag), (
                name, image)
    froms = re.findall(r"^FROM (\S+)", (ROOT / "docker" / "Dockerfile").read_text(), re.M)
    assert froms and all(re.search(r":\d[\w.-]*$", f) for f in froms), froms


# -- how the services fit together ----------------------------------------------------------------


def test_airflow_follows_the_reference_layout_with_one_jwt_secret():
    services = _services(MAIN)
    airflow = {n: services[n] for n in AIRFLOW_SERVICES}
    secrets = {_env(s)["AIRFLOW__API_AUTH__JWT_SECRET"] for s in airflow.values()}
    assert len(secrets) == 1 and secrets != {""}
    for name, svc in airflow.items():
        env = _env(svc)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"], name
        if name != "airflow-init":
            assert "healthcheck" in svc, name
            assert svc["depends_on"]["airflow-init"]["condition"] == (
                "service_completed_successfully")
            assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
    assert set(services["airflow-init"]["depends_on"]) == {"redis"}
    assert services["airflow-init"]["restart"] == "no"
    assert _command(services["airflow-apiserver"])[1:] == ["api-server"]
    assert _command(services["airflow-worker"])[1:] == ["celery", "worker"]
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == (
        "service_healthy")
    for name in ("streamlit", "notebook"):
        assert "healthcheck" in services[name]
        assert services[name]["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully")


def test_storage_runs_here_only_with_the_storage_profile_and_nothing_else_needs_it():
    services = _services(MAIN)
    assert ENV_EXAMPLE["COMPOSE_PROFILES"] == "storage"
    for name in STORAGE_SERVICES:
        assert services[name]["profiles"] == ["storage"], name
    for name, svc in services.items():  # so COMPOSE_PROFILES= leaves a valid project
        if name not in STORAGE_SERVICES:
            assert not set(svc.get("depends_on", {})) & STORAGE_SERVICES, name
            assert "profiles" not in svc, name


def test_containers_get_servers_mode_settings_the_pipeline_accepts():
    services = _services(MAIN)
    writer = {k: v for k, v in _env(services["airflow-worker"]).items()
              if k.startswith("CLICKLAKE_")}
    reader = {k: v for k, v in _env(services["notebook"]).items() if k.startswith("CLICKLAKE_")}
    assert _env(services["streamlit"])["CLICKLAKE_CATALOG"] == reader["CLICKLAKE_CATALOG"]
    for env, role, key in ((writer, "clicklake_writer", "clicklake-pipeline"),
                           (reader, "clicklake_reader", "clicklake-dashboard")):
        settings = load_settings({**env, "CLICKLAKE_ENV_FILE": "/nonexistent"})
        assert settings.catalog_is_postgres and settings.uses_s3()
        assert settings.catalog.startswith(f"postgresql://{role}:") and settings.catalog.endswith(
            "@postgres:5432/clicklake")
        assert settings.s3_endpoint == "http://minio:9000"
        assert settings.s3_access_key_id == key
        assert settings.data_path == "s3://clicklake-lake/lake"
        assert settings.ducklake_catalog().startswith("postgres:host=postgres port=5432")
    split = {**ENV_EXAMPLE, "POSTGRES_ADDRESS": "storage.internal:5432",
             "MINIO_ENDPOINT": "http://storage.internal:9000"}
    moved = _env(services["airflow-scheduler"], split)
    assert "@storage.internal:5432/clicklake" in moved["CLICKLAKE_CATALOG"]
    assert "@storage.internal:5432/airflow" in moved["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert moved["CLICKLAKE_S3_ENDPOINT"] == "http://storage.internal:9000"


# -- every command, run natively ------------------------------------------------------------------


def test_every_clicklake_image_service_has_a_native_run_and_its_program_is_installed():
    ours = _ours(_services(MAIN))
    assert set(ours) == set(NATIVE_RUN)
    assert all(NATIVE_RUN[n] in globals() for n in ours)
    for name, svc in ours.items():
        program = _command(svc)[0]
        if program == "bash":  # airflow-init: each line of its script
            programs = [line.split()[0] for line in _command(svc)[2].splitlines()[1:]]
        else:
            programs = [program]
        for p in programs:
            assert (BIN / p).is_file(), f"{name}: {p} is not installed in {BIN}"
    assert (BIN / "celery").is_file()  # the worker's health check


def test_airflow_commands_and_health_checks_parse_with_the_installed_airflow(tmp_path):
    services = _services(MAIN)
    argvs = [_command(services[n])[1:] for n in sorted(AIRFLOW_SERVICES - {"airflow-init"})]
    init_script = _command(services["airflow-init"])[2]
    argvs += [shlex.split(line)[1:] for line in init_script.splitlines()
              if line.startswith("airflow ")]
    for svc in services.values():
        test = svc.get("healthcheck", {}).get("test", [])
        if test and test[0] == "CMD-SHELL" and test[1].startswith("airflow "):
            argvs.append(shlex.split(_resolve(test[1]).replace("$HOSTNAME", "host"))[1:])
    assert len(argvs) == 5 + 3 + 2
    probe = ("import json, sys\nfrom airflow.cli.cli_parser import get_parser\n"
             "parser = get_parser()\n"
             "for argv in json.loads(sys.argv[1]):\n    parser.parse_args(argv)\n")
    env = {**os.environ, **_env(services["airflow-worker"]), "AIRFLOW_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe, json.dumps(argvs)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_airflow_init_steps_run_natively_and_create_the_lake(tmp_path):
    svc = _services(MAIN)["airflow-init"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLICKLAKE_")},
        **{k: v for k, v in _env(svc).items() if k.startswith("AIRFLOW_ADMIN")},
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
        "CLICKLAKE_HOME": str(tmp_path / "lake"),  # the embedded lake stands in for the servers
        "CLICKLAKE_ENV_FILE": str(tmp_path / "no.env"),
    }
    steps = [line for line in _command(svc)[2].splitlines()
             if line.startswith(("python ", "clicklake "))]
    assert len(steps) == 2
    for line in steps:
        argv = shlex.split(line)
        done = subprocess.run([str(BIN / argv[0]), *argv[1:]], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, (line, done.stderr[-1500:])
    assert json.loads((tmp_path / "passwords.json").read_text()) == {"admin": "admin-local"}
    assert "lake ready" in done.stderr
    con = connect(read_only=True, settings=load_settings(env))
    try:
        assert con.execute("select count(*) from ops.load_ledger").fetchone() == (0,)
    finally:
        con.close()


def test_airflow_init_waits_for_an_unreachable_catalog_then_fails_in_one_line(tmp_path):
    port = free_port()  # nothing listens there
    env = {**os.environ, "CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/nonexistent",
           "CLICKLAKE_CATALOG": f"postgresql://w:s3cret@127.0.0.1:{port}/clicklake"}
    done = subprocess.run([str(BIN / "clicklake"), "init", "--wait", "1"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "waiting for the lake" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "the lake is not ready after 1s" in done.stderr and "Traceback" not in done.stderr
    assert "s3cret" not in done.stderr, last


def _native(argv: list[str], replace: dict[str, str]) -> list[str]:
    out = []
    for arg in argv:
        key = arg.split("=", 1)[0]
        out.append(f"{key}={replace[key]}" if key in replace else arg)
    return [str(BIN / out[0]), *out[1:]]


def test_the_streamlit_command_serves_the_dashboard_health_check(tmp_path):
    svc = _services(MAIN)["streamlit"]
    port = free_port()
    argv = _native(_command(svc), {"--server.address": "127.0.0.1", "--server.port": str(port)})
    status, body = _serve(argv, f"http://127.0.0.1:{port}/_stcore/health", ROOT,
                          {"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/nonexistent"})
    assert (status, body) == (200, b"ok")
    assert "/_stcore/health" in " ".join(svc["healthcheck"]["test"])


def test_the_notebook_command_serves_jupyter_with_the_examples(tmp_path):
    svc = _services(MAIN)["notebook"]
    port = free_port()
    argv = _native(_command(svc), {"--ip": "127.0.0.1", "--port": str(port),
                                   "--ServerApp.root_dir": str(ROOT / "notebook")})
    if os.geteuid() == 0:  # the image runs Jupyter as uid 50000; this machine may be root
        argv.append("--allow-root")
    token = uuid4().hex
    env = {"JUPYTER_TOKEN": token, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "HOME": str(tmp_path)}
    status, body = _serve(argv, f"http://127.0.0.1:{port}/api", ROOT, env,
                          then=f"http://127.0.0.1:{port}/api/contents/examples?token={token}")
    assert status == 200
    assert {"raw.ipynb", "marts.ipynb"} <= {f["name"] for f in json.loads(body)["content"]}
    assert "localhost:8888/api'" in " ".join(svc["healthcheck"]["test"])


def test_the_notebook_service_opens_jupyter_on_the_examples_folder():
    svc = _services(MAIN)["notebook"]
    root = dict(a.split("=", 1) for a in _command(svc) if "=" in a)["--ServerApp.root_dir"]
    assert root == "/opt/clicklake/notebook"  # WORKDIR /opt/clicklake + COPY notebook
    assert {"raw.ipynb", "marts.ipynb"} <= {p.name for p in (ROOT / "notebook/examples").iterdir()}
    assert _env(svc)["JUPYTER_TOKEN"]


# -- the storage node's init scripts, run natively ------------------------------------------------


def test_the_bucket_script_makes_both_buckets_and_least_privilege_policies(tmp_path):
    fake = tmp_path / "bin" / "mc"  # records what buckets.sh asks MinIO's client to do
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$*" >> "$MC_LOG"\n'
                    'if [ "$1 $2 $3" = "admin policy create" ]; then\n'
                    '    cp "$6" "$MC_OUT/$5.json"\nfi\n')
    fake.chmod(0o755)
    env = {**os.environ, **_env(_services(STORAGE)["minio-init"]),
           "PATH": f"{fake.parent}:{os.environ['PATH']}",
           "MC_LOG": str(tmp_path / "mc.log"), "MC_OUT": str(tmp_path)}
    done = subprocess.run(["sh", str(ROOT / "minio" / "init" / "buckets.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "mc.log").read_text().splitlines()
    assert "mb --ignore-existing storage/clicklake-source storage/clicklake-lake" in calls
    assert "admin user add storage clicklake-pipeline pipeline-local-secret" in calls
    assert "admin policy attach storage clicklake-pipeline --user clicklake-pipeline" in calls
    assert "admin policy attach storage clicklake-dashboard --user clicklake-dashboard" in calls

    def allowed(policy: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for st in json.loads((tmp_path / f"{policy}.json").read_text())["Statement"]:
            for action in st["Action"]:
                out.setdefault(action, set()).update(st["Resource"])
        return out

    pipeline = allowed("clicklake-pipeline")
    assert pipeline["s3:GetObject"] == {"arn:aws:s3:::clicklake-source/*",
                                        "arn:aws:s3:::clicklake-lake/*"}
    assert pipeline["s3:PutObject"] == pipeline["s3:DeleteObject"] == {
        "arn:aws:s3:::clicklake-lake/*"}
    dashboard = allowed("clicklake-dashboard")
    assert dashboard["s3:GetObject"] == {"arn:aws:s3:::clicklake-lake/lake/*"}
    assert not {"s3:PutObject", "s3:DeleteObject"} & set(dashboard)


def _psql_dsn(user: str, password: str, port: int, db: str) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{port}/{db}"


def test_the_postgres_init_lets_the_pipeline_write_the_lake_and_the_dashboard_only_read_it(
    postgres, s3, tmp_path
):
    import psycopg2

    suffix = uuid4().hex[:6]
    names = {
        "AIRFLOW_DB_NAME": f"airflow_{suffix}", "AIRFLOW_DB_USER": f"airflow_{suffix}",
        "AIRFLOW_DB_PASSWORD": "airflow-pw", "CATALOG_DB_NAME": f"catalog_{suffix}",
        "CATALOG_WRITER_USER": f"writer_{suffix}", "CATALOG_WRITER_PASSWORD": "writer-pw",
        "CATALOG_READER_USER": f"reader_{suffix}", "CATALOG_READER_PASSWORD": "reader-pw",
    }
    env = {**os.environ, **names, "POSTGRES_USER": postgres.user,
           "PGPASSWORD": postgres.password, "PGHOST": postgres.host, "PGPORT": str(postgres.port),
           "INIT_SQL": str(ROOT / "minio" / "postgres" / "init.sql")}
    for _ in range(2):  # it runs again after a password change: it must be idempotent
        done = subprocess.run(["bash", str(ROOT / "minio" / "postgres" / "init.sh")], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    catalog = names["CATALOG_DB_NAME"]
    lake = {"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/nonexistent",
            "CLICKLAKE_DATA_PATH": f"s3://{s3.new_bucket('lake')}/lake", **s3.env()}
    writer = load_settings({**lake, "CLICKLAKE_CATALOG": _psql_dsn(
        names["CATALOG_WRITER_USER"], "writer-pw", postgres.port, catalog)})
    con = connect(settings=writer)
    try:
        con.execute("create table mart.probe as select 42 as answer")
    finally:
        con.close()

    reader_dsn = _psql_dsn(names["CATALOG_READER_USER"], "reader-pw", postgres.port, catalog)
    con = connect(read_only=True, settings=load_settings({**lake, "CLICKLAKE_CATALOG": reader_dsn}))
    try:
        assert con.execute("select answer from mart.probe").fetchone() == (42,)
    finally:
        con.close()

    db = psycopg2.connect(reader_dsn)
    try:
        with db.cursor() as cur:
            cur.execute("select count(*) from ducklake_table")
            assert cur.fetchone()[0] > 0
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("delete from ducklake_snapshot")
        db.rollback()
        with db.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("create table sneaky (x int)")
    finally:
        db.close()
    for user, password in ((names["CATALOG_READER_USER"], "reader-pw"),
                           (names["CATALOG_WRITER_USER"], "writer-pw")):
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            psycopg2.connect(_psql_dsn(user, password, postgres.port, names["AIRFLOW_DB_NAME"]))
    psycopg2.connect(_psql_dsn(names["AIRFLOW_DB_USER"], "airflow-pw", postgres.port,
                               names["AIRFLOW_DB_NAME"])).close()
