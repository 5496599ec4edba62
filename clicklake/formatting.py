"""How ClickLake shows numbers and names to a person: one place for the dashboard and notebooks.

Money carries the currency of the `CLICKLAKE_CURRENCY` setting and thousands separators
("€21,696.29"), counts have separators ("12,345"), every rate shows one decimal ("26.3%"),
columns get human names instead of snake_case (`label`), countries their name beside the ISO
code (`country`), funnel steps the name of what the visitor did (`funnel_step`). Charts share
one colour-blind-safe palette (Okabe–Ito) and the same formats (`vega_locale`, `MONEY_AXIS`).
Pure Python: no Streamlit, no network; a missing value shows as "–".
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from functools import cache

MISSING = "–"
PERCENT_DECIMALS = 1

# Okabe & Ito (2008), "Color Universal Design": told apart with every common colour-vision
# deficiency. Black is left out (it reads as text); the first colour is the single-series one.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#999999")
ACCENT = PALETTE[5]  # a second measure beside the first (vermillion against blue)
COMPARED = "#5F6368"  # the comparison period on a trend chart: grey, drawn dashed

# The values of a dimension that always get the same colour, on every chart, page and lake:
# the n-th value of a list gets the n-th colour of PALETTE. Fixed lists, not the values a chart
# happens to hold: sorted present values would move "shoes" from green to pink on a lake that
# also sells outdoor gear. Other values get a colour from their name (`category_colours`).
CATEGORY_DOMAINS = {
    # the shop's product categories (clicklake.generate's catalogue)
    "category": ("shoes", "bags", "jackets", "accessories", "outdoor", "home"),
    "device": ("desktop", "mobile", "tablet"),
    "page_type": ("home", "category", "product", "cart", "checkout", "confirmation", "other"),
    # "(none)": direct and organic visits, which carry no utm_source
    "source": ("(none)", "google", "newsletter", "facebook", "instagram"),
}
# other names of the same dimension (a mart's column, a breakdown's name)
_DOMAIN_ALIASES = {"device_type": "device", "utm_source": "source", "product_category": "category"}

# currency code → symbol; any other ISO 4217 code is written before the amount ("CHF 12.00")
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "BRL": "R$",
           "AUD": "A$", "CAD": "C$"}


@cache
def default_currency() -> str:
    """The currency of the settings (`CLICKLAKE_CURRENCY`), read once per process."""
    from clicklake.config import load_settings

    return load_settings().currency


def symbol(currency: str | None = None) -> str:
    """What goes before an amount: "€" for EUR, "CHF " for a code without a symbol here."""
    code = (currency or default_currency()).upper()
    return SYMBOLS.get(code, f"{code} ")


def category_colours(values: Iterable[object], dimension: str | None = None,
                     known: Sequence[str] | None = None) -> dict[str, str]:
    """The colour of each distinct value of a category (sorted by name, missing values left
    out), the same on every chart whatever other values it holds: a value of the dimension's
    fixed list (`CATEGORY_DOMAINS`, or `known`) gets the PALETTE colour of its place in that
    list; any other value the colour its name hashes to, moved on to the next free colour
    only when that one is already used on the chart (two segments must not look alike)."""
    fixed = tuple(known if known is not None else CATEGORY_DOMAINS.get(
        _DOMAIN_ALIASES.get(dimension or "", dimension or ""), ()))
    names = sorted({str(v) for v in values if not is_missing(v)})
    colours = {v: PALETTE[fixed.index(v) % len(PALETTE)] for v in names if v in fixed}
    used = set(colours.values())
    for name in (v for v in names if v not in fixed):
        start = zlib.crc32(name.encode()) % len(PALETTE)
        free = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))
                if PALETTE[(start + i) % len(PALETTE)] not in used]
        colours[name] = free[0] if free else PALETTE[start]
        used.add(colours[name])
    return {v: colours[v] for v in names}


def is_missing(value: object) -> bool:
    """None, NaN, NaT or pandas' NA: a value to show as `MISSING`."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(
        value) in ("NaT", "<NA>", "nan")


def money(value: float | None, currency: str | None = None, decimals: int = 2) -> str:
    """An amount with its currency and thousands separators: "€21,696.29", "-€5.00"."""
    if is_missing(value):
        return MISSING
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol(currency)}{abs(value):,.{decimals}f}"


def count(value: float | None) -> str:
    """A whole number with thousands separators: "12,345"."""
    return MISSING if is_missing(value) else f"{value:,.0f}"


def percent(value: float | None, decimals: int = PERCENT_DECIMALS) -> str:
    """A fraction as a percentage with a fixed number of decimals: 0.2634 → "26.3%"."""
    return MISSING if is_missing(value) else f"{value * 100:,.{decimals}f}%"


def points(delta: float | None) -> str | None:
    """A difference of two rates in percentage points: 0.012 → "+1.2 pp"."""
    return None if is_missing(delta) else f"{delta * 100:+.{PERCENT_DECIMALS}f} pp"


def seconds(value: float | None) -> str:
    """A duration: "45 s", "3 min 05 s", "1 h 02 min"."""
    if is_missing(value):
        return MISSING
    s = round(value)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# -- names -------------------------------------------------------------------------------------

# snake_case column → what a reader calls it (short: tables must fit without a scroll)
LABELS = {
    "date": "Date", "hour": "Hour", "visitors": "Visitors", "sessions": "Sessions",
    "pageviews": "Pageviews", "orders": "Orders", "revenue": "Revenue", "units": "Units",
    "conversion_rate": "Conversion", "bounce_rate": "Bounce rate",
    "avg_order_value": "Avg order", "avg_session_seconds": "Avg visit",
    "new_visitors": "New visitors", "returning_visitors": "Returning",
    "step": "Step", "step_order": "#", "step_conversion": "From previous",
    "overall_conversion": "From first step", "segment": "Segment",
    "utm_source": "Source", "utm_medium": "Medium", "utm_campaign": "Campaign",
    "revenue_share": "Share", "first_touch": "First touch",
    "last_non_direct": "Last non-direct", "product_id": "ID", "product_name": "Product",
    "category": "Category", "price": "Price", "add_to_carts": "Cart adds",
    "cart_to_purchase": "Cart → buy", "price_band": "Price band", "min_price": "From",
    "max_price": "To", "value": "Value", "country": "Country", "geo_country": "Country",
    "geo_region": "Region", "device": "Device", "device_type": "Device", "os": "OS",
    "browser": "Browser", "page_path": "Page", "page_type": "Type", "entrances": "Entrances",
    "exits": "Exits", "exit_rate": "Exit rate", "path": "Path (page types)",
    "converted_sessions": "Converted", "share": "Share", "bucket": "Visit length",
    "cohort_week": "Cohort", "cohort_visitors": "Visitors", "week_number": "Week",
    "active_visitors": "Active", "retention": "Retention",
    # the pipeline's own records (Data health, What changed)
    "run_id": "Run", "check_name": "Check", "failing_rows": "Failing", "object": "Object key",
    "rows_loaded": "Loaded", "rows_rejected": "Rejected", "snapshot_id": "Snapshot",
    "snapshot_time": "Time (UTC)", "commit_message": "What ran", "changes": "Tables changed",
}


def label(column: str) -> str:
    """The human name of a column: `LABELS`, else "snake_case" → "Snake case"."""
    return LABELS.get(column) or column.replace("_", " ").strip().capitalize()


# what each funnel step of sql/seeds/page_rules.csv means: the page a visit reached
FUNNEL_STEPS = {
    "browse": "Browsed",            # home or a category page
    "add_to_cart": "Viewed product",  # a product page, where the add-to-cart button is
    "cart": "Opened cart",
    "checkout": "Reached checkout",
    "purchase": "Purchased",        # the order confirmation
}


def funnel_step(step: str) -> str:
    """A funnel step named by what the visitor did: "add_to_cart" → "Viewed product"."""
    return FUNNEL_STEPS.get(step) or label(step)


# ISO 3166-1 alpha-2 → short English name (static: no lookup leaves the machine)
_COUNTRIES = """
AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|AL Albania|AM Armenia
AO Angola|AR Argentina|AT Austria|AU Australia|AZ Azerbaijan|BA Bosnia and Herzegovina
BB Barbados|BD Bangladesh|BE Belgium|BF Burkina Faso|BG Bulgaria|BH Bahrain|BI Burundi|BJ Benin
BN Brunei|BO Bolivia|BR Brazil|BS Bahamas|BT Bhutan|BW Botswana|BY Belarus|BZ Belize|CA Canada
CD DR Congo|CF Central African Republic|CG Congo|CH Switzerland|CI Côte d'Ivoire|CL Chile
CM Cameroon|CN China|CO Colombia|CR Costa Rica|CU Cuba|CV Cape Verde|CY Cyprus|CZ Czechia
DE Germany|DJ Djibouti|DK Denmark|DM Dominica|DO Dominican Republic|DZ Algeria|EC Ecuador
EE Estonia|EG Egypt|ER Eritrea|ES Spain|ET Ethiopia|FI Finland|FJ Fiji|FR France|GA Gabon
GB United Kingdom|GD Grenada|GE Georgia|GH Ghana|GM Gambia|GN Guinea|GQ Equatorial Guinea
GR Greece|GT Guatemala|GW Guinea-Bissau|GY Guyana|HK Hong Kong|HN Honduras|HR Croatia|HT Haiti
HU Hungary|ID Indonesia|IE Ireland|IL Israel|IN India|IQ Iraq|IR Iran|IS Iceland|IT Italy
JM Jamaica|JO Jordan|JP Japan|KE Kenya|KG Kyrgyzstan|KH Cambodia|KM Comoros|KP North Korea
KR South Korea|KW Kuwait|KZ Kazakhstan|LA Laos|LB Lebanon|LC Saint Lucia|LI Liechtenstein
LK Sri Lanka|LR Liberia|LS Lesotho|LT Lithuania|LU Luxembourg|LV Latvia|LY Libya|MA Morocco
MC Monaco|MD Moldova|ME Montenegro|MG Madagascar|MK North Macedonia|ML Mali|MM Myanmar
MN Mongolia|MO Macao|MR Mauritania|MT Malta|MU Mauritius|MV Maldives|MW Malawi|MX Mexico
MY Malaysia|MZ Mozambique|NA Namibia|NE Niger|NG Nigeria|NI Nicaragua|NL Netherlands|NO Norway
NP Nepal|NZ New Zealand|OM Oman|PA Panama|PE Peru|PG Papua New Guinea|PH Philippines
PK Pakistan|PL Poland|PR Puerto Rico|PS Palestine|PT Portugal|PY Paraguay|QA Qatar|RO Romania
RS Serbia|RU Russia|RW Rwanda|SA Saudi Arabia|SC Seychelles|SD Sudan|SE Sweden|SG Singapore
SI Slovenia|SK Slovakia|SL Sierra Leone|SM San Marino|SN Senegal|SO Somalia|SR Suriname
SS South Sudan|SV El Salvador|SY Syria|SZ Eswatini|TD Chad|TG Togo|TH Thailand|TJ Tajikistan
TL Timor-Leste|TM Turkmenistan|TN Tunisia|TR Türkiye|TT Trinidad and Tobago|TW Taiwan
TZ Tanzania|UA Ukraine|UG Uganda|US United States|UY Uruguay|UZ Uzbekistan|VA Vatican City
VE Venezuela|VN Vietnam|YE Yemen|ZA South Africa|ZM Zambia|ZW Zimbabwe
"""
COUNTRIES = dict(item.strip().split(" ", 1)
                 for line in _COUNTRIES.strip().splitlines() for item in line.split("|"))

# ISO 3166-1 alpha-2 → numeric, the id the world map's shapes (world-atlas) are keyed by
_NUMERIC = """
AD 020|AE 784|AF 004|AG 028|AL 008|AM 051|AO 024|AR 032|AT 040|AU 036|AZ 031|BA 070|BB 052
BD 050|BE 056|BF 854|BG 100|BH 048|BI 108|BJ 204|BN 096|BO 068|BR 076|BS 044|BT 064|BW 072
BY 112|BZ 084|CA 124|CD 180|CF 140|CG 178|CH 756|CI 384|CL 152|CM 120|CN 156|CO 170|CR 188
CU 192|CV 132|CY 196|CZ 203|DE 276|DJ 262|DK 208|DM 212|DO 214|DZ 012|EC 218|EE 233|EG 818
ER 232|ES 724|ET 231|FI 246|FJ 242|FR 250|GA 266|GB 826|GD 308|GE 268|GH 288|GM 270|GN 324
GQ 226|GR 300|GT 320|GW 624|GY 328|HK 344|HN 340|HR 191|HT 332|HU 348|ID 360|IE 372|IL 376
IN 356|IQ 368|IR 364|IS 352|IT 380|JM 388|JO 400|JP 392|KE 404|KG 417|KH 116|KM 174|KP 408
KR 410|KW 414|KZ 398|LA 418|LB 422|LC 662|LI 438|LK 144|LR 430|LS 426|LT 440|LU 442|LV 428
LY 434|MA 504|MC 492|MD 498|ME 499|MG 450|MK 807|ML 466|MM 104|MN 496|MO 446|MR 478|MT 470
MU 480|MV 462|MW 454|MX 484|MY 458|MZ 508|NA 516|NE 562|NG 566|NI 558|NL 528|NO 578|NP 524
NZ 554|OM 512|PA 591|PE 604|PG 598|PH 608|PK 586|PL 616|PR 630|PS 275|PT 620|PY 600|QA 634
RO 642|RS 688|RU 643|RW 646|SA 682|SC 690|SD 729|SE 752|SG 702|SI 705|SK 703|SL 694|SM 674
SN 686|SO 706|SR 740|SS 728|SV 222|SY 760|SZ 748|TD 148|TG 768|TH 764|TJ 762|TL 626|TM 795
TN 788|TR 792|TT 780|TW 158|TZ 834|UA 804|UG 800|US 840|UY 858|UZ 860|VA 336|VE 862|VN 704
YE 887|ZA 710|ZM 894|ZW 716
"""
COUNTRY_NUMERIC = dict(item.strip().split(" ", 1)
                       for line in _NUMERIC.strip().splitlines() for item in line.split("|"))


def country_name(code: str | None) -> str:
    """The English name of an ISO 3166-1 alpha-2 code ("DE" → "Germany"); an unknown code
    is returned as it is, a missing one as "Unknown"."""
    if is_missing(code) or not str(code).strip():
        return "Unknown"
    return COUNTRIES.get(str(code).strip().upper(), str(code))


def country(code: str | None) -> str:
    """A country's name beside its code, "Germany (DE)"; an unknown code alone."""
    name = country_name(code)
    return name if name in ("Unknown", str(code)) else f"{name} ({str(code).upper()})"


# -- charts (Vega-Lite, as Altair and Streamlit draw them) -------------------------------------

def vega_locale(currency: str | None = None) -> dict:
    """A Vega number locale whose "$" format prints the setting's currency: with it,
    `format="$,.2f"` reads "€21,696.29" and `"$,.0f"` "€8,000" on an axis."""
    sym = symbol(currency)
    return {"number": {"decimal": ".", "thousands": ",", "grouping": [3],
                       "currency": [sym, ""]}}


MONEY_AXIS = "$,.0f"   # with `vega_locale`: "€8,000"
MONEY_TIP = "$,.2f"    # "€21,696.29"
COUNT_AXIS = ",.0f"
PERCENT_AXIS = f".{PERCENT_DECIMALS}%"
HOUR_AXIS = "%H:%M"    # time axis labels read as hours of the day
DAY_AXIS = "%d %b"

# which columns hold money or rates (by name, across every mart and dashboard query): tables
# and charts format them from here; every other number is a count
MONEY_COLUMNS = frozenset({"revenue", "price", "min_price", "max_price", "avg_order_value",
                           "first_touch", "last_non_direct"})
PERCENT_COLUMNS = frozenset({"conversion_rate", "bounce_rate", "step_conversion",
                             "overall_conversion", "revenue_share", "exit_rate", "share",
                             "retention", "cart_to_purchase"})


def kind(column: str) -> str:
    """'money', 'percent' or 'count': how a column's numbers are shown."""
    if column in MONEY_COLUMNS:
        return "money"
    return "percent" if column in PERCENT_COLUMNS else "count"


def value(column: str, number: float | None, currency: str | None = None) -> str:
    """`number` formatted as the column it comes from: money, a rate or a count."""
    return {"money": lambda v: money(v, currency), "percent": percent,
            "count": count}[kind(column)](number)
