"""ClickLake as a user installs it: `pip install .` (a wheel, not the checkout) into a fresh
virtual environment, then `clicklake` from an empty folder, far from the project's sql/.

The wheel is built without network (`--no-build-isolation`: setuptools is in the project's
environment) and installed with `--no-deps`; the fresh environment reaches the project's
installed dependencies through a `.pth` line, which adds their folder to `sys.path` but runs
none of its `.pth` files, so the project's own editable install is not seen.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the clicklake wheel installed; returns its bin folder."""
    tmp = tmp_path_factory.mktemp("install")
    wheels, venv, tree = tmp / "wheels", tmp / "venv", tmp / "tree"
    # a clean copy of what the wheel is built from: setuptools' build/ folder in the checkout
    # could hold a file deleted since, and the wheel would ship it
    tree.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    for name in ("clicklake", "sql"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps",
                    "--no-build-isolation", "--quiet", "-w", str(wheels)],
                   check=True, capture_output=True, text=True, timeout=300)
    wheel = next(wheels.glob("clicklake-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    purelib = next(venv.glob("lib/python*/site-packages"))
    (purelib / "clicklake-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=300)
    return venv / "bin"


def _run(bindir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLICKLAKE_", "PYTHON", "AWS_"))}
    env |= {"CLICKLAKE_ENV_FILE": "/nonexistent", "PATH": f"{bindir}:{env.get('PATH', '')}"}
    return subprocess.run([str(bindir / "clicklake"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_wheel_carries_every_sql_file_of_the_project(installed):
    wheel = next(installed.parent.parent.glob("wheels/clicklake-*.whl"))
    shipped = {n.removeprefix("clicklake/sql/") for n in zipfile.ZipFile(wheel).namelist()
               if n.startswith("clicklake/sql/")}
    project = {p.relative_to(ROOT / "sql").as_posix() for p in (ROOT / "sql").rglob("*")
               if p.is_file()}
    assert project and project == shipped


def test_an_installed_clicklake_runs_from_an_empty_folder(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "python"), "-c",
         "import clicklake.config as c; print(c.__file__); print(c.SQL_DIR)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("CLICKLAKE_", "PYTHON"))},
    ).stdout.split()
    assert not where[0].startswith(str(ROOT)), where  # the wheel's copy, not the checkout
    assert Path(where[1]) == Path(where[0]).parent / "sql"

    generated = _run(installed, tmp_path, "generate", "--start", "2024-03-01", "--hours", "1",
                     "--events-per-hour", "50")
    assert generated.returncode == 0, generated.stderr
    ran = _run(installed, tmp_path, "run", "--start", "2024-03-01T00", "--end", "2024-03-01T01")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "done " in ran.stderr
    status = _run(installed, tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert "checks of the last run" in status.stdout and "quarantined files" in status.stdout
    orders = _run(installed, tmp_path, "query", "select count(*) from mart.daily_kpis",
                  "--format", "csv")
    assert orders.stdout.splitlines() == ["count_star()", "1"], orders.stderr
    assert (tmp_path / ".clicklake" / "catalog.sqlite").is_file()


def test_the_minio_sdk_is_not_a_dependency():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if d.split("==")[0] == "minio"]
