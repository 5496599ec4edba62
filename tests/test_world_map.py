"""The Audience page's world map: every country code the sources give has a shape id, the map
carries its shapes inline (no tile server, no URL, no network) and the page draws it."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest
from support import build_lake

from clicklake import dashboard, formatting
from clicklake.config import load_settings
from clicklake.generate import _GEO
from clicklake.generate_ga import _COUNTRY
from clicklake.lake import SQL_DIR, connect

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit" / "app.py"


def shape_ids() -> set[str]:
    return {g.get("id") for g in dashboard.world_topology()["objects"]["countries"]["geometries"]}


def ga4_country_codes() -> set[str]:
    """The alpha-2 codes GA4 exports' country names become (sql/sources/ga4/stage/events.sql)."""
    sql = (SQL_DIR / "sources" / "ga4" / "stage" / "events.sql").read_text()
    block = sql.split("coalesce(map {", 1)[1].split("}[geo_fields[1]]", 1)[0]
    codes = set(re.findall(r"'[^']+': '([A-Z]{2})'", block))
    assert len(codes) > 40, "the GA4 country map was not found in its SQL"
    return codes


def urls(spec: object) -> list[str]:
    """Every `url` anywhere in a Vega-Lite spec."""
    if isinstance(spec, dict):
        return [v for k, v in spec.items() if k == "url"] + [
            u for v in spec.values() for u in urls(v)]
    if isinstance(spec, list):
        return [u for v in spec for u in urls(v)]
    return []


def test_every_country_the_sources_emit_has_a_numeric_id_and_a_shape():
    generated = {geo[0] for geo in _GEO} | set(_COUNTRY)
    ga4 = ga4_country_codes()
    assert len(ga4) > 40
    assert generated | ga4 <= set(formatting.COUNTRY_NUMERIC)
    # the generator's countries are all big enough to be drawn at 1:110m
    assert {formatting.COUNTRY_NUMERIC[c] for c in generated} <= shape_ids()


def test_the_numeric_table_covers_the_name_table_with_unique_three_digit_ids():
    assert set(formatting.COUNTRY_NUMERIC) == set(formatting.COUNTRIES)
    ids = list(formatting.COUNTRY_NUMERIC.values())
    assert all(re.fullmatch(r"\d{3}", i) for i in ids) and len(set(ids)) == len(ids)
    assert formatting.COUNTRY_NUMERIC["DE"] == "276" and formatting.COUNTRY_NUMERIC["US"] == "840"


def test_the_shapes_are_a_small_bundled_file_that_ships_in_the_package():
    assert dashboard.WORLD_SHAPES.is_file()
    assert dashboard.WORLD_SHAPES.stat().st_size < 150_000
    data = (ROOT / "pyproject.toml").read_text()
    assert '"clicklake" = ["data/*.json"' in data


COUNTRIES = pd.DataFrame({
    "value": ["US", "DE", "SG", "(unknown)"],
    "sessions": [120, 80, 7, 3],
    "revenue": [2500.5, 1999.0, 10.0, 0.0],
})


def test_rows_the_map_cannot_place_are_counted_not_lost():
    drawn, unplaced = dashboard.map_countries(COUNTRIES)
    assert list(drawn["id"]) == ["840", "276"]
    assert list(drawn["country"]) == ["United States (US)", "Germany (DE)"]
    assert drawn["sessions"].sum() + unplaced == COUNTRIES["sessions"].sum()  # Singapore, unknown


@pytest.mark.parametrize("measure", dashboard.MAP_MEASURES)
def test_the_map_spec_carries_its_shapes_and_numbers_inline_with_no_url(measure):
    spec = dashboard.world_map(COUNTRIES, measure).to_dict()
    assert urls(spec) == []
    text = json.dumps(spec)
    assert '"type": "topojson"' in text and '"feature": "countries"' in text
    assert '"geoshape"' in text and '"equalEarth"' in text
    layers = spec["layer"]
    assert layers[1]["encoding"]["color"]["field"] == measure
    assert layers[1]["encoding"]["color"]["scale"]["scheme"]["name"] == "blues"
    tips = [t["field"] for t in layers[1]["encoding"]["tooltip"]]
    assert tips == ["country", "sessions", "revenue"]
    assert layers[0]["mark"]["fill"] == "#e4e4e4"  # countries without data


def test_an_unknown_measure_is_refused_with_one_line():
    with pytest.raises(ValueError, match="map measure"):
        dashboard.world_map(COUNTRIES, "orders; drop table x")


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("map-lake")
    settings = load_settings({"CLICKLAKE_HOME": str(home),
                              "CLICKLAKE_ENV_FILE": str(home / "no.env")})
    build_lake(settings, datetime(2024, 3, 4, 23, tzinfo=UTC), 2, seed=5)
    return home, settings


def test_the_audience_page_draws_the_map_for_sessions_and_for_revenue(lake_home, monkeypatch):
    home, settings = lake_home
    for name in [k for k in os.environ if k.startswith("CLICKLAKE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CLICKLAKE_HOME", str(home))
    monkeypatch.setenv("CLICKLAKE_ENV_FILE", str(home / "no.env"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("app_pages/audience.py").run()
    assert not at.exception, [e.value for e in at.exception]

    def the_map():
        maps = [c.proto for c in at.get("vega_lite_chart") if '"geoshape"' in c.proto.spec]
        assert len(maps) == 1
        return maps[0]

    def map_spec() -> dict:
        return json.loads(the_map().spec)

    spec = map_spec()
    assert urls(spec) == [] and spec["layer"][1]["encoding"]["color"]["field"] == "sessions"
    con = connect(read_only=True, settings=settings)
    try:
        total = con.execute("select sum(sessions) from mart.audience_daily").fetchone()[0]
    finally:
        con.close()
    # the shapes stay inline in the spec, the numbers travel with it (Arrow): every generated
    # country is drawn, so the map's rows add up to all sessions
    assert spec["datasets"] and all(
        d["type"] == "Topology" for d in spec["datasets"].values())
    (rows,) = [t for t in (pa.ipc.open_stream(d.data.data).read_all().to_pandas()
                           for d in the_map().datasets) if "sessions" in t]
    assert rows["sessions"].sum() == total and "Germany (DE)" in set(rows["country"])

    at.segmented_control(key="map_measure").set_value("revenue").run()
    assert not at.exception, [e.value for e in at.exception]
    assert map_spec()["layer"][1]["encoding"]["color"]["field"] == "revenue"
