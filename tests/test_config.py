from pathlib import Path

import pytest

from clicklake.config import ConfigError, load_settings


def test_defaults_put_everything_under_the_home_folder(tmp_path):
    s = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/nonexistent"})
    assert s.home == tmp_path
    assert s.source_uri == str(tmp_path / "source")
    assert s.landing_uri == str(tmp_path / "landing")
    assert s.data_path == str(tmp_path / "lake")
    assert s.ducklake_catalog() == f"sqlite:{tmp_path / 'catalog.sqlite'}"
    assert not s.catalog_is_postgres and not s.uses_s3()


def test_a_postgres_url_becomes_a_libpq_catalog_string():
    s = load_settings({
        "CLICKLAKE_CATALOG": "postgresql://lake%40user:p%20w@db.local:6543/clicklake",
        "CLICKLAKE_ENV_FILE": "/nonexistent",
    })
    assert s.catalog_is_postgres
    assert s.ducklake_catalog() == (
        "postgres:host=db.local port=6543 user=lake@user password='p w' dbname=clicklake"
    )


def test_a_password_with_quotes_and_backslashes_is_one_quoted_libpq_value():
    s = load_settings({
        "CLICKLAKE_CATALOG": "postgresql://u:a%27b%5Cc%3Dd%20e@h/db",
        "CLICKLAKE_ENV_FILE": "/nonexistent",
    })
    assert s.ducklake_catalog() == "postgres:host=h user=u password='a\\'b\\\\c=d e' dbname=db"
    assert "a'b" not in repr(s) and "%27" not in repr(s)


def test_an_unknown_time_zone_is_refused_when_the_settings_load():
    with pytest.raises(ConfigError, match="CLICKLAKE_TIMEZONE='Mars/Olympus' is not a time zone"):
        load_settings({"CLICKLAKE_TIMEZONE": "Mars/Olympus", "CLICKLAKE_ENV_FILE": "/nonexistent"})
    s = load_settings({"CLICKLAKE_TIMEZONE": "America/New_York", "CLICKLAKE_ENV_FILE": "/x"})
    assert s.timezone == "America/New_York"


def test_the_environment_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nCLICKLAKE_TIMEZONE='Europe/Berlin'\nexport CLICKLAKE_WORKERS=2\n"
        "CLICKLAKE_LOOKBACK_HOURS=5\n"
    )
    s = load_settings({"CLICKLAKE_ENV_FILE": str(env_file), "CLICKLAKE_LOOKBACK_HOURS": "7"})
    assert (s.timezone, s.workers, s.lookback_hours) == ("Europe/Berlin", 2, 7)


def test_a_malformed_number_is_a_clear_error():
    with pytest.raises(ConfigError, match="CLICKLAKE_WORKERS='many' is not a whole number"):
        load_settings({"CLICKLAKE_WORKERS": "many", "CLICKLAKE_ENV_FILE": "/nonexistent"})


def test_an_unknown_catalog_kind_is_a_clear_error():
    s = load_settings({"CLICKLAKE_CATALOG": "mysql://x", "CLICKLAKE_ENV_FILE": "/nonexistent"})
    with pytest.raises(ConfigError, match="not understood"):
        s.ducklake_catalog()


def test_every_setting_the_code_reads_is_in_env_example():
    root = Path(__file__).resolve().parents[1]
    documented = {
        line.split("=", 1)[0]
        for line in (root / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    import re

    read = set()
    for path in (root / "clicklake").glob("*.py"):
        read |= set(re.findall(r"\"(CLICKLAKE_[A-Z0-9_]+)\"", path.read_text()))
    assert read, "found no settings in the code"
    assert read <= documented, f"missing from .env.example: {sorted(read - documented)}"


def test_every_setting_the_code_reads_is_documented_in_env_example():
    from clicklake.config import _ENV_NAMES, read_env_file

    documented = read_env_file(Path(__file__).resolve().parents[1] / ".env.example")
    missing = sorted(set(_ENV_NAMES.values()) - set(documented))
    assert not missing, f"not in .env.example: {missing}"
