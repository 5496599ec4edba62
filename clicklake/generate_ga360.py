"""GA360's BigQuery export (`ga_sessions_YYYYMMDD`) of the simulated shop: see generate_ga.py."""

from __future__ import annotations

from collections import Counter

from clicklake.generate import _DEVICES, _GEO
from clicklake.generate_ga import (
    _CITY,
    _COUNTRY,
    _DEVICE,
    _VERSION,
    HOST,
    _obj,
    _s,
    _Writer,
)

# the fields of a hit that are the same on every hit of this shop
_HIT_TAIL = (',"exceptionInfo":{"isFatal":true},"promotion":[],"experiment":[],'
             '"customVariables":[],"customDimensions":[],"customMetrics":[],'
             '"social":{"socialNetwork":"(not set)","hasSocialSourceReferral":"No",'
             '"socialInteractionNetworkAction":" : "},"contentGroup":{"contentGroup1":'
             '"(not set)","contentGroup2":"(not set)","previousContentGroup1":"(entrance)"},'
             '"dataSource":"web","publisher_infos":[]}')

class Ga360Writer(_Writer):
    """GA360's BigQuery export: one session row per line with its hits[], per start day."""

    stream, name = "ga_sessions", "ga_sessions"

    def visit(self, t0: int, uid: str, info: tuple, kind: str, key: tuple, query: str,
              events: list[tuple[int, int, str, int]], paid: list[list[tuple[int, int]]]) -> None:
        """Write one visit as a session row (and now and then a non-interactive row)."""
        q = self.q.random
        user, visit_id, traffic = self._user(uid, t0, kind, key)
        start_s, day = t0 // 1000, self._day(t0)
        sparse, hits_i = q() < 0.3, self._int(self._maybe_str(0.7))
        empty = ("null", '{"currencyCode":"USD"}', None)[int(q() * 3)]  # a hit's unused objects
        hits, pageviews, orders, revenue, hit_days = [], 0, 0, 0, Counter()
        last_page = max(i for i, e in enumerate(events) if e[1] == 0)
        for i, (t, etype, path, action) in enumerate(events):
            time = t - start_s * 1000 if i else 0
            ts = start_s * 1000 + time
            page = self._page(path, query if i == 0 else "", sparse)
            product, duplicate = "[]", False
            transaction, action_type, kind_ = empty, "0", "PAGE"
            if etype:
                kind_ = "EVENT"
            else:
                pageviews += 1
                if action > 0:
                    action_type = "3"
                    product = "[" + self._product(action, self.price_at(action, t), 1, None, 0,
                                                  hits_i, sparse) + "]"
                elif path.startswith("/category_"):
                    product = self._impressions(path, t, hits_i, sparse)
                elif path == "/checkout":
                    action_type = "5"
                elif action < 0:
                    action_type, lines = "6", self._lines(paid[orders])
                    orders += 1
                    cents = sum(price * n for _, price, n in lines)
                    revenue += cents
                    tid, duplicate = self._order_id(uid, t)
                    transaction = self._transaction(tid, cents, self._tax(info[1], cents),
                                                    hits_i, sparse)
                    product = "[" + ",".join(self._product(pid, price, n, price * n, 0, hits_i,
                                                           sparse)
                                             for pid, price, n in lines) + "]"
            hit = self._hit(len(hits) + 1, time, ts, kind_, page, i == 0 and etype == 0,
                            i == last_page, traffic[5] if i == 0 else None, transaction,
                            product, action_type, path, hits_i, sparse)
            hits.append(hit)
            hit_days[self._day(ts)] += 1
            if duplicate and t + 3000 < self.end_ms:
                # the same purchase sent again as a TRANSACTION hit: the order counts once
                dup = t + 1000 + int(q() * 2000)
                hits.append(self._hit(len(hits) + 1, dup - start_s * 1000, dup, "TRANSACTION",
                                      page, False, False, None, transaction, product, "6", path,
                                      hits_i, sparse))
                hit_days[self._day(dup)] += 1
        totals = self._totals(1, len(hits), pageviews, (events[-1][0] - t0) // 1000, user[0] == 1,
                              orders, revenue * 10_000, sparse)
        self._row(day, user, uid, info, visit_id, start_s, totals, traffic, hits, sparse)
        for d, n in hit_days.items():
            self.events[d] += n
        if q() < 0.01 and self._day(t0 + 30_000) == day and t0 + 30_000 < self.end_ms:
            self._non_interactive(uid, info, user, t0 + 1000 + int(q() * 20_000), traffic)

    def _non_interactive(self, uid: str, info: tuple, user: list, t: int, traffic: tuple) -> None:
        """A row of background hits only (totals.visits null): events of no session."""
        q = self.q.random
        start_s, sparse, hits_i = t // 1000, q() < 0.3, self._int(self._maybe_str(0.7))
        user[1] += 1
        page = self._page("/", "", sparse)
        hits = [self._hit(n + 1, n * 4000, start_s * 1000 + n * 4000, "EVENT", page, False, False,
                          None, "null", "[]", "0", "/", hits_i, sparse, interactive=False)
                for n in range(1 + int(q() * 2))]
        totals = self._totals(None, len(hits), None, 0, False, 0, 0, sparse)
        self._row(self._day(t), user, uid, info, user[1], start_s, totals, traffic, hits, sparse)
        self.events[self._day(t)] += len(hits)

    def _row(self, day: int, user: list, uid: str, info: tuple, visit_id: int, start_s: int,
             totals: str, traffic: tuple, hits: list[str], sparse: bool) -> None:
        q = self.q.random
        int_of = [self._int(self._maybe_str(0.6)) for _ in range(3)]
        full_id = (int(uid[1:], 16) * 7919 + 10**18) % 10**19
        custom = ('[{"index":"4","value":"' + _COUNTRY[_GEO[info[1]][0]][1] + '"}]'
                  if q() < 0.5 else "[]" if not sparse else None)
        pairs = [("visitorId", None), ("visitNumber", int_of[0](user[0])),
                 ("visitId", int_of[1](visit_id)), ("visitStartTime", int_of[2](start_s)),
                 ("date", f'"{self.ymd[day]}"'), ("totals", totals),
                 ("trafficSource", self._traffic_source(traffic, user, sparse)),
                 ("device", self._device(info, sparse)), ("geoNetwork", self._geo(info, sparse)),
                 ("customDimensions", custom), ("hits", "[" + ",".join(hits) + "]"),
                 ("fullVisitorId", f'"{full_id}"'), ("userId", _s(info[4])),
                 ("clientId", f'"{int(uid[1:9], 16)}.{user[2] // 1000}"'),
                 ("channelGrouping", f'"{traffic[7]}"'),
                 ("socialEngagementType", '"Not Socially Engaged"')]
        self.rows.setdefault(day, []).append(_obj(pairs, sparse))

    def _totals(self, visits: int | None, hits: int, pageviews: int | None, seconds: int,
                new: bool, transactions: int, revenue: int, sparse: bool) -> str:
        i = self._int(self._maybe_str(0.6))
        bounce = pageviews == 1
        money = i(revenue) if transactions else None
        return _obj([("visits", i(visits)), ("hits", i(hits)), ("pageviews", i(pageviews)),
                     ("timeOnSite", None if bounce or not visits else i(max(1, seconds))),
                     ("bounces", i(1) if bounce else None),
                     ("transactions", i(transactions) if transactions else None),
                     ("transactionRevenue", money), ("newVisits", i(1) if new else None),
                     ("screenviews", None), ("uniqueScreenviews", None), ("timeOnScreen", None),
                     ("totalTransactionRevenue", money),
                     ("sessionQualityDim", i(1 + int(self.q.random() * 100)) if visits else None)],
                    sparse)

    def _traffic_source(self, traffic: tuple, user: list, sparse: bool) -> str:
        source, medium, campaign, content, path, _, keyword, _, kind = traffic
        key = ("ts", traffic, sparse, user[3] == traffic and user[0] > 1)
        if key not in self._cache:
            clicks = ('{"campaignId":"1234567","adGroupId":"7654321","creativeId":"5551234",'
                      '"criteriaId":"9876","page":"1","slot":"Top","criteriaParameters":'
                      '"demo dataset unavailable","gclId":null,"customerId":"3456789012",'
                      '"adNetworkType":"Google Search","targetingCriteria":null,'
                      '"isVideoAd":false}' if kind == "paid"
                      else '{"criteriaParameters":"not available in demo dataset"}')
            self._cache[key] = _obj([
                ("referralPath", _s(path)), ("campaign", _s(campaign)), ("source", _s(source)),
                ("medium", _s(medium)), ("keyword", _s(keyword)), ("adContent", _s(content)),
                ("adwordsClickInfo", clicks),
                ("isTrueDirect", "true" if kind == "direct" or key[3] else None),
                ("campaignCode", None)], sparse)
        return self._cache[key]

    def _device(self, info: tuple, sparse: bool) -> str:
        key = ("device", info[0], info[2], info[3], sparse)
        if key not in self._cache:
            os, version, brand, model, name, screen = _DEVICE[info[0]]
            category = _DEVICES[info[0]][0]
            self._cache[key] = _obj([
                ("browser", _s(info[2])), ("browserVersion", _s(_VERSION[info[2]])),
                ("browserSize", '"(not set)"'), ("operatingSystem", _s(os)),
                ("operatingSystemVersion", _s(version)),
                ("isMobile", "false" if category == "desktop" else "true"),
                ("mobileDeviceBranding", _s(brand)), ("mobileDeviceModel", _s(model)),
                ("mobileInputSelector", None if category == "desktop" else '"touchscreen"'),
                ("mobileDeviceInfo", _s(f"{brand} {model}")),
                ("mobileDeviceMarketingName", _s(name)), ("flashVersion", '"(not set)"'),
                ("javaEnabled", None), ("language", _s(info[3])), ("screenColors", '"24-bit"'),
                ("screenResolution", _s(screen)), ("deviceCategory", _s(category))], sparse)
        return self._cache[key]

    def _geo(self, info: tuple, sparse: bool) -> str:
        key = ("geo", info[1], sparse)
        if key not in self._cache:
            code, _, region, _, lat, lon, _ = _GEO[info[1]]
            country, continent, sub, _ = _COUNTRY[code]
            self._cache[key] = _obj([
                ("continent", _s(continent)), ("subContinent", _s(sub)),
                ("country", _s(country)), ("region", _s(region)), ("metro", '"(not set)"'),
                ("city", _s(_CITY[region])), ("cityId", '"not available in demo dataset"'),
                ("networkDomain", '"(not set)"'), ("latitude", _s(str(lat))),
                ("longitude", _s(str(lon))), ("networkLocation", None)], sparse)
        return self._cache[key]

    def _page(self, path: str, query: str, sparse: bool) -> str:
        key = ("page", path, query, sparse)
        if key not in self._cache:
            levels = [f"/{p}" for p in path.split("/")[1:]] + ["", "", ""]
            self._cache[key] = _obj(
                [("pagePath", _s(path + query)), ("hostname", _s(HOST)),
                 ("pageTitle", _s(self._title(path))), ("searchKeyword", None),
                 ("searchCategory", None)]
                + [(f"pagePathLevel{n + 1}", _s(levels[n])) for n in range(4)], sparse)
        return self._cache[key]

    def _product(self, pid: int, price: int, qty: int | None, revenue: int | None,
                 position: int, i, sparse: bool) -> str:
        name, category = self.products[pid]
        listed = '"(not set)"' if not position else f'"category_{category}"'
        money = None if revenue is None else i(revenue * 10_000)  # cents to millionths
        return _obj([("productSKU", f'"{self.sku(pid)}"'), ("v2ProductName", _s(name)),
                     ("v2ProductCategory", _s(f"Home/{category.capitalize()}/")),
                     ("productVariant", '"(not set)"'), ("productBrand", '"(not set)"'),
                     ("productRevenue", money), ("localProductRevenue", money),
                     ("productPrice", i(price * 10_000)),
                     ("localProductPrice", i(price * 10_000)), ("productQuantity", i(qty)),
                     ("productRefundAmount", None), ("localProductRefundAmount", None),
                     ("isImpression", "true" if position else None), ("isClick", None),
                     ("customDimensions", "[]"), ("customMetrics", "[]"),
                     ("productListName", listed), ("productListPosition", i(position))], sparse)

    def _impressions(self, path: str, t: int, i, sparse: bool) -> str:
        """A category page lists its first four products: impressions, not cart lines."""
        cat = [c for c in self.category_products
               if self.products[c[0]][1] == path[10:]][0]
        return "[" + ",".join(self._product(pid, self.price_at(pid, t), None, None, n + 1, i,
                                            sparse) for n, pid in enumerate(cat[:4])) + "]"

    def _transaction(self, tid: str | None, cents: int, tax: int, i, sparse: bool) -> str:
        pairs = [("transactionId", _s(tid)), ("transactionRevenue", i(cents * 10_000)),
                 ("transactionTax", i(tax * 10_000)), ("transactionShipping", i(0)),
                 ("affiliation", None), ("currencyCode", '"USD"'),
                 ("localTransactionRevenue", i(cents * 10_000)),
                 ("localTransactionTax", i(tax * 10_000)), ("localTransactionShipping", i(0)),
                 ("transactionCoupon", None)]
        if tid is None and self.q.random() < 0.5:
            pairs = pairs[1:]  # the field itself is missing, not null
        return _obj(pairs, sparse and tid is not None)

    def _hit(self, number: int, time: int, ts: int, type_: str, page: str, entrance: bool,
             exit_: bool, referer: str | None, transaction: str | None, product: str,
             action_type: str, path: str, i, sparse: bool, interactive: bool = True) -> str:
        event = None
        if type_ == "EVENT":
            event = ('{"eventCategory":"engagement","eventAction":"click","eventLabel":'
                     f'"{path}","eventValue":null}}' if interactive else
                     '{"eventCategory":"video","eventAction":"progress","eventLabel":'
                     '"hero-video","eventValue":null}')
        return _obj([
            ("hitNumber", i(number)), ("time", i(time)), ("hour", i(ts // 3_600_000 % 24)),
            ("minute", i(ts // 60_000 % 60)), ("isSecure", None),
            ("isInteraction", "true" if interactive else None),
            ("isEntrance", "true" if entrance else None), ("isExit", "true" if exit_ else None),
            ("referer", _s(referer)), ("page", page), ("transaction", transaction),
            ("item", '{"currencyCode":"USD"}' if not sparse else None),
            ("appInfo", f'{{"screenName":"{HOST}{path}","screenDepth":"0"}}'),
            ("eventInfo", event), ("product", product),
            ("eCommerceAction", f'{{"action_type":"{action_type}","step":{i(1)},'
                                '"option":null}'),
            ("type", f'"{type_}"')], sparse)[:-1] + _HIT_TAIL
