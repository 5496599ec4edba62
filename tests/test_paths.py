"""Behaviour's paths show where converting and non-converting visits differ: the page types
each kind of visit passes through, and how the visits that start the same way convert. Both
are recomputed here from stage.events and stage.sessions (not from mart.session_paths), with a
window over the views rather than the mart's lists, and must equal what the dashboard shows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from test_dashboard import app, frame_with, no_errors, served_lake

from clicklake import dashboard

START = datetime(2024, 3, 4, 10, tzinfo=UTC)
HOURS = 2
DAY = date(2024, 3, 4)

# each visit's page types in time order, a repeat in a row collapsed, its first six kept: the
# path as the mart defines it
STEPS = """
with
views as (
    select e.session_id, s.converted, coalesce(e.page_type, 'other') as page_type,
        e.event_ts, e.event_id
    from stage.events as e
    inner join stage.sessions as s using (session_id)
    where e.is_pageview and s.session_date between $1 and $2
),
changes as (
    select *, lag(page_type) over (partition by session_id order by event_ts, event_id) as prev
    from views
),
steps as (
    select *, row_number() over (partition by session_id order by event_ts, event_id) as step
    from changes
    where prev is distinct from page_type
)
select * from steps where step <= 6
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    yield from served_lake(tmp_path_factory.mktemp("paths-lake"), START, HOURS, seed=23)


def _filters() -> dashboard.Filters:
    return dashboard.Filters(start=DAY, end=DAY)


def test_page_types_reached_by_converting_and_other_visits_equal_stage(lake):
    shown = dashboard.path_page_types(lake, _filters())
    expected = lake.execute(f"""
        with steps as ({STEPS}),
        visits as (
            select session_id, any_value(converted) as converted,
                list_distinct(list(page_type)) as types
            from steps group by session_id
        ),
        totals as (
            select count(*) filter (where converted) as conv,
                count(*) filter (where not converted) as other
            from visits
        )
        select t.page_type, count(*) as sessions,
            count(*) filter (where converted) as converted_sessions,
            count(*) filter (where converted) / any_value(conv) as share_of_converting,
            count(*) filter (where not converted) / any_value(other) as share_of_other
        from (select converted, unnest(types) as page_type from visits) as t, totals
        group by t.page_type
    """, [DAY, DAY]).df().set_index("page_type").sort_index()
    got = shown.set_index("page_type").sort_index()
    assert list(got.index) == list(expected.index)
    for column in expected.columns:
        assert got[column].tolist() == pytest.approx(expected[column].tolist()), column
    assert (got["conversion_rate"] == got["converted_sessions"] / got["sessions"]).all()
    # the point of the view: converting visits pass through pages the others rarely reach
    assert got.loc["checkout", "share_of_converting"] > 0.8 > got.loc["checkout", "share_of_other"]
    assert (got["share_of_converting"] != got["share_of_other"]).all()


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_path_beginnings_and_their_conversion_equal_stage(lake, steps):
    shown = dashboard.path_prefixes(lake, _filters(), steps=steps, limit=100)
    expected = lake.execute(f"""
        with steps as ({STEPS})
        select beginning, count(*) as sessions, count(*) filter (where converted) as conv
        from (
            select session_id, any_value(converted) as converted,
                string_agg(page_type, ' > ' order by step) as beginning
            from steps where step <= $3 group by session_id
        )
        group by beginning
        order by sessions desc, beginning
    """, [DAY, DAY, steps]).fetchall()
    got = list(zip(shown["path_start"], shown["sessions"], shown["converted_sessions"],
                   strict=True))
    assert got == [tuple(row) for row in expected]
    total = sum(row[1] for row in expected)
    assert shown["share"].tolist() == pytest.approx([row[1] / total for row in expected])
    assert shown["conversion_rate"].tolist() == pytest.approx(
        [row[2] / row[1] for row in expected])
    # rows really differ: visits that start the same way convert at a rate between 0 and 1
    assert any(0 < rate < 1 for rate in shown["conversion_rate"])


def test_a_wrong_number_of_steps_is_a_clear_error(lake):
    with pytest.raises(ValueError, match="steps"):
        dashboard.path_prefixes(lake, _filters(), steps=0)


def test_the_behaviour_page_shows_both_views_as_the_queries_answer(lake):
    at = app("behaviour")
    no_errors(at)
    f = dashboard.Filters(start=DAY, end=DAY)
    types = frame_with(at, "share_of_converting")
    expected = dashboard.path_page_types(lake, f)
    assert types["page_type"].tolist() == expected["page_type"].tolist()
    starts = frame_with(at, "path_start")
    expected = dashboard.path_prefixes(lake, f, steps=3, limit=15)
    assert starts["path_start"].tolist() == expected["path_start"].tolist()
    assert starts["sessions"].tolist() == expected["sessions"].tolist()
    assert any(0 < rate < 100 for rate in starts["conversion_rate"])  # shown as percentages
