"""The one formatting layer of the dashboard and the notebooks (clicklake.formatting)."""

from __future__ import annotations

import math

import pytest

from clicklake import formatting as fmt
from clicklake.config import ConfigError, load_settings


def test_money_has_the_currency_and_thousands_separators():
    assert fmt.money(21696.29, "EUR") == "€21,696.29"
    assert fmt.money(8000, "USD", decimals=0) == "$8,000"
    assert fmt.money(-5, "GBP") == "-£5.00"
    assert fmt.money(1234.5, "chf") == "CHF 1,234.50"  # no symbol: the code
    assert fmt.money(None, "EUR") == fmt.money(math.nan, "EUR") == "–"


def test_money_follows_the_currency_setting():
    assert load_settings({"CLICKLAKE_ENV_FILE": "/nonexistent"}).currency == "EUR"
    assert load_settings({"CLICKLAKE_CURRENCY": "usd", "CLICKLAKE_ENV_FILE": "/x"}).currency \
        == "USD"
    with pytest.raises(ConfigError, match="CLICKLAKE_CURRENCY='EUROS' is not an ISO 4217"):
        load_settings({"CLICKLAKE_CURRENCY": "euros", "CLICKLAKE_ENV_FILE": "/x"})
    assert fmt.vega_locale("USD")["number"]["currency"] == ["$", ""]


def test_percentages_always_show_one_decimal():
    assert [fmt.percent(v) for v in (0.263, 0.35564, 0, 1)] == ["26.3%", "35.6%", "0.0%",
                                                                  "100.0%"]
    assert fmt.percent(None) == "–"
    assert fmt.points(0.0123) == "+1.2 pp"
    assert fmt.points(-0.004) == "-0.4 pp"


def test_counts_have_thousands_separators():
    assert fmt.count(1234567) == "1,234,567"
    assert fmt.count(12.0) == "12"
    assert fmt.count(None) == "–"
    assert [fmt.seconds(s) for s in (45, 185, 3720)] == ["45 s", "3 min 05 s", "1 h 02 min"]


def test_column_names_are_human_and_numbers_formatted_by_column():
    assert fmt.label("conversion_rate") == "Conversion"
    assert fmt.label("utm_source") == "Source"
    assert fmt.label("some_new_column") == "Some new column"
    assert fmt.value("revenue", 21696.29, "EUR") == "€21,696.29"
    assert fmt.value("bounce_rate", 0.5) == "50.0%"
    assert fmt.value("sessions", 12345) == "12,345"


def test_funnel_steps_are_named_by_what_the_visitor_did():
    steps = ["browse", "add_to_cart", "cart", "checkout", "purchase"]
    assert [fmt.funnel_step(s) for s in steps] == [
        "Browsed", "Viewed product", "Opened cart", "Reached checkout", "Purchased"]


def test_countries_get_their_name_beside_the_code():
    assert fmt.country_name("DE") == "Germany"
    assert fmt.country("GB") == "United Kingdom (GB)"
    assert fmt.country("us") == "United States (US)"
    assert fmt.country("XX") == "XX"  # unknown: the code as it is
    assert fmt.country(None) == "Unknown"
    assert len(fmt.COUNTRIES) > 150 and all(len(c) == 2 for c in fmt.COUNTRIES)


def test_the_palette_is_okabe_ito_and_distinct():
    assert len(set(fmt.PALETTE)) == len(fmt.PALETTE) >= 8
    assert fmt.PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")


def test_a_category_keeps_its_colour_whatever_the_other_categories_are():
    # the 1-day lake sells bags, jackets and shoes; the 30-day one outdoor gear too
    few = fmt.category_colours(["bags", "jackets", "shoes"], "category")
    more = fmt.category_colours(["shoes", "outdoor", "bags", "jackets", "home"], "category")
    assert few["shoes"] == more["shoes"] and few["bags"] == more["bags"]
    assert fmt.category_colours(["shoes"], "category")["shoes"] == few["shoes"]
    assert len(set(more.values())) == len(more)  # told apart within one chart
    assert set(more.values()) <= set(fmt.PALETTE)


def test_a_column_named_differently_keeps_the_same_colours():
    # device on one page, device_type on another; a funnel segment by source or by device
    by_type = fmt.category_colours(["mobile", "tablet"], "device_type")
    by_device = fmt.category_colours(["desktop", "mobile", "tablet"], "device")
    assert by_type == {k: by_device[k] for k in by_type}


def test_an_unknown_category_gets_a_stable_colour_of_its_own():
    one = fmt.category_colours(["weekly_digest", "spring_sale"])
    other = fmt.category_colours(["spring_sale", "weekly_digest"])
    assert one == other and one["spring_sale"] != one["weekly_digest"]
    assert fmt.category_colours(["spring_sale", "x", "y"])["spring_sale"] in fmt.PALETTE
    assert list(fmt.category_colours(["b", "a", "b", None])) == ["a", "b"]  # once, sorted
