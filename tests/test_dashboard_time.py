"""The dashboard's time and link logic as pure functions: a date preset gives the right days
(counted back from the lake's newest day, not the wall clock), a comparison gives the right
earlier period (a year back matched by weekday), a view survives a round trip through the
URL's query parameters, a bad link value is reported and ignored, and a CSV download holds the
rows and columns of its table."""

from __future__ import annotations

import io
from dataclasses import fields
from datetime import date, timedelta

import pandas as pd
import pytest

from clicklake import dashboard
from clicklake.dashboard import View, comparison_range, preset_range, view_from_query

NEWEST = date(2024, 3, 5)  # a Tuesday: the demo data's newest day


@pytest.mark.parametrize(("preset", "start", "end"), [
    ("today", date(2024, 3, 5), date(2024, 3, 5)),
    ("yesterday", date(2024, 3, 4), date(2024, 3, 4)),
    ("last_7", date(2024, 2, 28), date(2024, 3, 5)),
    ("last_28", date(2024, 2, 7), date(2024, 3, 5)),
    ("last_90", date(2023, 12, 7), date(2024, 3, 5)),
    ("month_to_date", date(2024, 3, 1), date(2024, 3, 5)),
    ("last_month", date(2024, 2, 1), date(2024, 2, 29)),  # a leap year's February
])
def test_a_preset_counts_back_from_the_lakes_newest_day(preset, start, end):
    assert preset_range(preset, NEWEST) == (start, end)


def test_last_month_in_january_is_the_previous_years_december():
    assert preset_range("last_month", date(2024, 1, 15)) == (date(2023, 12, 1),
                                                              date(2023, 12, 31))
    assert preset_range("month_to_date", date(2024, 1, 1)) == (date(2024, 1, 1),
                                                                date(2024, 1, 1))


def test_every_preset_but_custom_resolves_and_an_unknown_one_is_refused():
    for preset in dashboard.PRESETS:
        if preset != "custom":
            start, end = preset_range(preset, NEWEST)
            assert start <= end <= NEWEST
    with pytest.raises(ValueError, match="unknown date preset 'last_8'"):
        preset_range("last_8", NEWEST)


def test_the_previous_period_has_the_same_length_and_ends_the_day_before():
    assert comparison_range(NEWEST, NEWEST, "previous") == (date(2024, 3, 4), date(2024, 3, 4))
    assert comparison_range(date(2024, 2, 28), NEWEST, "previous") == (
        date(2024, 2, 21), date(2024, 2, 27))
    assert comparison_range(date(2024, 2, 1), date(2024, 2, 29), "previous") == (
        date(2024, 1, 3), date(2024, 1, 31))


def test_last_year_is_matched_by_weekday_52_weeks_back():
    start, end = comparison_range(date(2024, 2, 28), NEWEST, "year")
    assert (start, end) == (date(2023, 3, 1), date(2023, 3, 7))
    assert start.weekday() == date(2024, 2, 28).weekday()
    assert end.weekday() == NEWEST.weekday()
    assert comparison_range(NEWEST, NEWEST, "none") is None
    with pytest.raises(ValueError, match="unknown comparison"):
        comparison_range(NEWEST, NEWEST, "month")


def test_filters_compare_with_the_chosen_period_and_keep_their_dimensions():
    f = dashboard.Filters(NEWEST, NEWEST, sources=("google",), comparison="year")
    assert f.compared() == dashboard.Filters(NEWEST - timedelta(days=364),
                                             NEWEST - timedelta(days=364),
                                             sources=("google",), comparison="year")
    assert dashboard.Filters(NEWEST, NEWEST, comparison="none").compared() is None
    assert f.params()["mediums"] == [] and f.params()["products"] == []


def test_a_view_and_its_filters_hold_one_shared_set_of_choices():
    chosen = {"sources": ("google",), "devices": ("mobile",), "countries": ("DE",),
              "mediums": ("cpc",), "campaigns": ("spring",), "products": ("P-1",),
              "comparison": "year"}
    view = View(preset="today", **chosen)
    assert view.choices() == chosen
    assert view.filters(NEWEST) == dashboard.Filters(NEWEST, NEWEST, **chosen)
    assert view.filters(NEWEST).choices() == chosen
    # every list filter of a link is one of the shared choices, and nothing else is
    assert set(dashboard.URL_LISTS.values()) | {"comparison"} == set(chosen)
    assert {f.name for f in fields(dashboard.Filters)} == {*chosen, "start", "end"}
    assert {f.name for f in fields(View)} == {*chosen, "preset", "start", "end"}


def query_of(view: View) -> dict[str, list[str]]:
    """What Streamlit's st.query_params hands back for a link to `view`: every key a list."""
    return {k: v if isinstance(v, list) else [v]
            for k, v in dashboard.view_to_query(view).items()}


@pytest.mark.parametrize("view", [
    View(),
    View(preset="today", comparison="year"),
    View(preset="custom", start=date(2024, 3, 1), end=date(2024, 3, 5), comparison="none"),
    View(preset="last_28", sources=("google", "(none)"), devices=("mobile",),
         countries=("DE", "FR"), mediums=("cpc",), campaigns=("spring sale & more",),
         products=("P-1",)),
])
def test_a_view_survives_a_round_trip_through_the_url(view):
    back, problems = view_from_query(query_of(view))
    assert back == view and problems == []
    assert back.filters(NEWEST) == view.filters(NEWEST)


def test_a_link_names_every_filter_and_leaves_out_empty_lists():
    query = dashboard.view_to_query(View(preset="custom", start=date(2024, 3, 4),
                                         end=date(2024, 3, 5), devices=("mobile",)))
    assert query == {"preset": "custom", "start": "2024-03-04", "end": "2024-03-05",
                     "compare": "previous", "device": ["mobile"]}


def test_a_preset_link_resolves_against_the_lake_it_opens():
    view, _ = view_from_query({"preset": ["yesterday"], "country": ["DE"]})
    f = view.filters(NEWEST)
    assert (f.start, f.end, f.countries) == (date(2024, 3, 4), date(2024, 3, 4), ("DE",))


def test_bad_link_values_fall_back_to_defaults_with_one_line_each():
    view, problems = view_from_query({"preset": ["fortnight"], "compare": ["decade"]})
    assert (view.preset, view.comparison) == ("last_7", "previous")
    assert len(problems) == 2 and "fortnight" in problems[0] and "decade" in problems[1]
    view, problems = view_from_query({"preset": ["custom"], "start": ["2024-03-05"],
                                      "end": ["2024-03-01"]})
    assert view.preset == "last_7" and len(problems) == 1
    view, problems = view_from_query({"preset": ["custom"], "start": ["yesterday"]})
    assert view.preset == "last_7" and "YYYY-MM-DD" in problems[0]


def test_a_csv_download_holds_the_tables_rows_and_columns():
    ui = pytest.importorskip("clicklake.dashboard_ui")
    df = pd.DataFrame({"utm_source": ["google", "bing, inc"], "sessions": [1200, 3],
                       "revenue": [21696.29, 0.5], "conversion_rate": [0.263, None]})
    back = pd.read_csv(io.BytesIO(ui.csv_bytes(df)))
    assert list(back.columns) == list(df.columns)
    pd.testing.assert_frame_equal(back, df)


@pytest.mark.parametrize(("first", "last", "ticks", "labels"), [
    ("2024-03-05 10:00", "2024-03-05 11:00", ["10:00", "11:00"], "hour"),   # two hours
    ("2024-03-05 00:00", "2024-03-05 23:00",
     ["00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"], "hour"),
    ("2024-03-04 23:00", "2024-03-05 01:00", ["05 Mar 00:00"], "hour_and_day"),
    ("2024-03-03 07:00", "2024-03-05 23:00",
     ["03 Mar 12:00", "04 Mar 00:00", "04 Mar 12:00", "05 Mar 00:00", "05 Mar 12:00"],
     "hour_and_day"),
    ("2024-02-28 00:00", "2024-03-05 23:00",  # a week: a tick a day
     ["28 Feb", "29 Feb", "01 Mar", "02 Mar", "03 Mar", "04 Mar", "05 Mar"], "day"),
    ("2024-02-07 05:00", "2024-03-05 23:00", ["08 Feb", "15 Feb", "22 Feb", "29 Feb"], "day"),
    ("2023-12-07 00:00", "2024-03-05 23:00", 7, "day"),  # ninety days: every two weeks
])
def test_an_hourly_axis_ticks_whole_hours_or_days_as_its_span_asks(first, last, ticks, labels):
    from clicklake.dashboard_ui import hour_ticks  # noqa: PLC0415 — imports Streamlit

    at, kind = hour_ticks(first, last)
    assert kind == labels
    if isinstance(ticks, int):
        assert len(at) == ticks and all(t == t.normalize() for t in at)
        return
    fmt = {"hour": "%H:%M", "hour_and_day": "%d %b %H:%M", "day": "%d %b"}[kind]
    assert [t.strftime(fmt) for t in at] == ticks
