"""GA4's BigQuery export (`events_YYYYMMDD`) of the simulated shop: see generate_ga.py."""

from __future__ import annotations

import json
from functools import lru_cache

from clicklake.generate import _DEVICES, _GEO, SHOP
from clicklake.generate_ga import (
    _CITY,
    _COUNTRY,
    _DEVICE,
    _VERSION,
    HOST,
    STREAM_ID,
    _obj,
    _s,
    _Writer,
)

_PARAM = ('{"key":"%s","value":{"string_value":%s,"int_value":null,"float_value":null,'
          '"double_value":null}}',
          '{"key":"%s","value":{"string_value":null,"int_value":%s,"float_value":null,'
          '"double_value":null}}',
          '{"key":"%s","value":{"string_value":null,"int_value":null,"float_value":null,'
          '"double_value":%s}}')
_SPARSE_PARAM = ('{"key":"%s","value":{"string_value":%s}}',
                 '{"key":"%s","value":{"int_value":%s}}',
                 '{"key":"%s","value":{"double_value":%s}}')


@lru_cache(maxsize=1 << 16)
def _param(key: str, s: str | None = None, i: int | None = None, d: float | None = None,
           as_string: bool = False, sparse: bool = False) -> str:
    """One event_params entry: {key, value{string_value, int_value, float_value, double_value}}."""
    if s is not None:
        slot, value = 0, json.dumps(s)
    elif i is not None:
        slot, value = 1, f'"{i}"' if as_string else str(i)
    else:
        slot, value = 2, repr(float(d))
    return (_SPARSE_PARAM if sparse else _PARAM)[slot] % (key, value)


class Ga4Writer(_Writer):
    """GA4's BigQuery export: one event per line, per the event's UTC day."""

    stream, name = "ga4_events", "events"

    def visit(self, t0: int, uid: str, info: tuple, kind: str, key: tuple, query: str,
              events: list[tuple[int, int, str, int]], paid: list[list[tuple[int, int]]]) -> None:
        """Write one visit as its GA4 events (and now and then a consent-mode ping)."""
        q = self.q.random
        user, session_id, traffic = self._user(uid, t0, kind, key)
        as_str, sparse = self._maybe_str(0.6), q() < 0.3
        number = user[0]
        pseudo = f"{int(uid[1:], 16) % 10**10}.{user[2] // 1000}"
        common = [_param("ga_session_id", i=session_id, as_string=as_str, sparse=sparse),
                  _param("ga_session_number", i=number, as_string=as_str, sparse=sparse)]
        source, medium, campaign, content, _, referer, keyword, _, kind = traffic
        session_params = [_param(k, s=v, sparse=sparse) for k, v in (
            ("source", source), ("medium", medium), ("campaign", campaign),
            ("content", content), ("term", keyword)) if v is not None]
        ltv = user[4]
        user_block = self._user_block(uid, info, pseudo, user, ltv, sparse, as_str)
        tail = self._last_click(traffic, sparse) if q() < 0.7 else ""
        collected = self._collected(traffic, t0, sparse)
        duration = events[-1][0] - t0
        pageviews = sum(1 for e in events if e[1] == 0)
        engaged = duration >= 10_000 or pageviews > 1 or bool(paid)
        basket: list[tuple[int, int]] = []
        orders, prev_page, prev_t, seq = 0, referer, t0, 0
        for n, (t, etype, path, action) in enumerate(events):
            page = [_param("page_location", s=SHOP + path + (query if n == 0 else ""),
                           sparse=sparse),
                     _param("page_title", s=self._title(path), sparse=sparse)]
            if prev_page:
                page.append(_param("page_referrer", s=prev_page, sparse=sparse))
            flag = [_param("session_engaged", i=1, as_string=as_str, sparse=sparse) if q() < 0.5
                    else _param("session_engaged", s="1", sparse=sparse)] if engaged and n else []
            if etype:
                name = "user_engagement" if q() < 0.5 else "scroll" if q() < 0.6 else "click"
                params = common + page + flag + [
                    _param("engagement_time_msec", i=t - prev_t, as_string=as_str, sparse=sparse)]
                seq += 1
                self._event(t, name, params, user_block, tail, seq, sparse, as_str)
                if q() < 0.02:  # consent denied: a cookieless ping of the same event
                    self._event(t, name, page, self._ping_block(info, sparse), "", 0, sparse,
                                as_str)
                prev_t = t
                continue
            first = [] if n else (["first_visit"] if number == 1 else []) + ["session_start"]
            for name in first:
                seq += 1
                self._event(t, name, common + page + session_params, user_block, tail, seq,
                            sparse, as_str, collected=collected)
            extra = session_params + [_param("entrances", i=1, as_string=as_str,
                                             sparse=sparse)] if n == 0 else []
            seq += 1
            self._event(t, "page_view", common + page + flag + extra, user_block, tail, seq,
                        sparse, as_str, collected=collected if n == 0 else None)
            if action > 0:
                price = self.price_at(action, t)
                basket.append((action, price))
                seq += 1
                self._event(t, "add_to_cart", common + page + flag + [
                    _param("currency", s="USD", sparse=sparse),
                    _param("value", d=price / 100, sparse=sparse)], user_block, tail, seq,
                    sparse, as_str, items=[self._item(action, price, 1, None, as_str, sparse)])
            elif path == "/checkout":
                seq += 1
                self._event(t, "begin_checkout", common + page + flag, user_block, tail, seq,
                            sparse, as_str, items=[self._item(p, c, n_, None, as_str, sparse)
                                                   for p, c, n_ in self._lines(basket)])
            elif action < 0:
                seq = self._purchase(uid, info, t, paid[orders], common + page + flag,
                                     user_block, tail, seq, sparse, as_str)
                user[4] += sum(price for _, price in paid[orders])
                orders, basket = orders + 1, []
            prev_page, prev_t = SHOP + path, t

    def _purchase(self, uid: str, info: tuple, t: int, paid: list[tuple[int, int]],
                  params: list[str], user_block: str, tail: str, seq: int, sparse: bool,
                  as_str: bool) -> int:
        lines = self._lines(paid)
        cents = sum(price * n for _, price, n in lines)
        tax = self._tax(info[1], cents)
        tid, duplicate = self._order_id(uid, t)
        ecommerce = _obj([
            ("total_item_quantity", self._int(as_str)(sum(n for *_, n in lines))),
            ("purchase_revenue_in_usd", repr(cents / 100)), ("purchase_revenue", repr(cents / 100)),
            ("refund_value_in_usd", None), ("refund_value", None),
            ("shipping_value_in_usd", "0.0"), ("shipping_value", "0.0"),
            ("tax_value_in_usd", repr(tax / 100)), ("tax_value", repr(tax / 100)),
            ("unique_items", self._int(as_str)(len(lines))), ("transaction_id", _s(tid))],
            sparse and tid is not None)
        items = [self._item(pid, price, n, price * n, as_str, sparse) for pid, price, n in lines]
        params = params + [_param("currency", s="USD", sparse=sparse),
                           _param("value", d=cents / 100, sparse=sparse)]
        if tid is not None:
            params.append(_param("transaction_id", s=tid, sparse=sparse))
        times = [t]
        if duplicate and t + 3000 < self.end_ms:  # sent twice: the order counts once
            times.append(t + 1000 + int(self.q.random() * 2000))
        for at in times:
            seq += 1
            self._event(at, "purchase", params, user_block, tail, seq, sparse, as_str,
                        value=repr(cents / 100), ecommerce=ecommerce, items=items)
        return seq

    def _event(self, t: int, name: str, params: list[str], user_block: str, tail: str, seq: int,
               sparse: bool, as_str: bool, collected: str | None = None, value: str | None = None,
               ecommerce: str | None = None, items: list[str] | None = None) -> None:
        us = t * 1000
        day = self._day(t)
        flip = self.q.random() < 0.1  # drawn for Parquet too: both hold the same records
        stamp = f'"{us}"' if as_str or (flip and not self.typed) else str(us)
        seq_ = (f'"{seq}"' if as_str else str(seq)) if seq else "null"
        t_ = f'"{t}"' if as_str else str(t)
        null = "" if sparse else "null"
        optional = [(k, v) for k, v in (
            ("event_previous_timestamp", None), ("event_value_in_usd", value),
            ("event_server_timestamp_offset", None), ("ecommerce", ecommerce),
            ("collected_traffic_source", collected), ("publisher", None))
            if v is not None or null]
        extra = "".join([f',"{k}":{v or null}' for k, v in optional])
        line = (f'{{"event_date":"{self.ymd[day]}","event_timestamp":{stamp},'
                f'"event_name":"{name}","event_params":[{",".join(params)}],'
                f'"event_bundle_sequence_id":{seq_},{user_block},'
                f'"items":[{",".join(items or ())}],'
                f'"is_active_user":{"true" if seq else "false"},"batch_event_index":{seq_},'
                f'"batch_page_id":{t_},"batch_ordering_id":{seq_}{extra}{tail}}}')
        self.rows.setdefault(day, []).append(line)
        self.events[day] += 1

    def _user_block(self, uid: str, info: tuple, pseudo: str, user: list, ltv: int,
                    sparse: bool, as_str: bool) -> str:
        """The fields every event of a visit repeats: visitor, device, geo, first touch."""
        i = self._int(as_str)
        first = user[3]
        name = first[2] if first[2] != "(not set)" else f"({first[8]})"
        ltv_obj = (f'{{"revenue":{ltv / 100!r},"currency":"USD"}}' if ltv
                   else None if sparse or self.q.random() < 0.5
                   else '{"revenue":0.0,"currency":"USD"}')
        body = _obj([
            ("user_id", _s(info[4])), ("user_pseudo_id", f'"{pseudo}"'),
            ("privacy_info", _obj([("analytics_storage", '"Yes"'), ("ads_storage", '"Yes"'),
                                   ("uses_transient_token", '"No"')], sparse)),
            ("user_properties", "[]"), ("user_first_touch_timestamp", i(user[2] * 1000)),
            ("user_ltv", ltv_obj), ("device", self._device(info, sparse)),
            ("geo", self._geo(info, sparse)), ("app_info", None),
            ("traffic_source", _obj([("name", _s(name)), ("medium", _s(first[1])),
                                     ("source", _s(first[0]))], sparse)),
            ("stream_id", f'"{STREAM_ID}"'), ("platform", '"WEB"'),
            ("event_dimensions", None)], sparse)
        return body[1:-1]

    def _ping_block(self, info: tuple, sparse: bool) -> str:
        return _obj([
            ("user_id", None), ("user_pseudo_id", None),
            ("privacy_info", '{"analytics_storage":"No","ads_storage":"No",'
                             '"uses_transient_token":"Yes"}'),
            ("user_properties", "[]"), ("user_first_touch_timestamp", None), ("user_ltv", None),
            ("device", self._device(info, sparse)), ("geo", self._geo(info, sparse)),
            ("app_info", None), ("traffic_source", None), ("stream_id", f'"{STREAM_ID}"'),
            ("platform", '"WEB"'), ("event_dimensions", None)], sparse)[1:-1]

    def _device(self, info: tuple, sparse: bool) -> str:
        key = ("device", info[0], info[2], info[3], sparse)
        if key not in self._cache:
            os, version, brand, model, name, _ = _DEVICE[info[0]]
            self._cache[key] = _obj([
                ("category", _s(_DEVICES[info[0]][0])), ("mobile_brand_name", _s(brand)),
                ("mobile_model_name", _s(model)), ("mobile_marketing_name", _s(name)),
                ("mobile_os_hardware_model", None), ("operating_system", _s(os)),
                ("operating_system_version", _s(f"{os} {version}")), ("vendor_id", None),
                ("advertising_id", None), ("language", _s(info[3].lower())),
                ("is_limited_ad_tracking", '"No"'), ("time_zone_offset_seconds", None),
                ("browser", None), ("browser_version", None),
                ("web_info", _obj([("browser", _s(info[2])),
                                   ("browser_version", _s(_VERSION[info[2]])),
                                   ("hostname", _s(HOST))], sparse))], sparse)
        return self._cache[key]

    def _geo(self, info: tuple, sparse: bool) -> str:
        key = ("geo", info[1], sparse)
        if key not in self._cache:
            code, _, region, *_ = _GEO[info[1]]
            country, continent, sub, _ = _COUNTRY[code]
            self._cache[key] = _obj([
                ("city", _s(_CITY[region])), ("country", _s(country)),
                ("continent", _s(continent)), ("region", _s(region)),
                ("sub_continent", _s(sub)), ("metro", '"(not set)"')], sparse)
        return self._cache[key]

    def _collected(self, traffic: tuple, t0: int, sparse: bool) -> str | None:
        """collected_traffic_source of a tagged landing (utm tags or a gclid), else null."""
        source, medium, campaign, content, _, _, keyword, _, kind = traffic
        if kind not in ("paid", "email", "social"):
            return None
        return _obj([("manual_campaign_id", None), ("manual_campaign_name", _s(campaign)),
                     ("manual_source", _s(source)), ("manual_medium", _s(medium)),
                     ("manual_term", None), ("manual_content", _s(content)),
                     ("gclid", f'"Cj0K{t0:x}"' if kind == "paid" else None),
                     ("dclid", None), ("srsltid", None)], sparse)

    def _last_click(self, traffic: tuple, sparse: bool) -> str:
        key = ("last_click", traffic, sparse)
        if key not in self._cache:
            source, medium, campaign, content, _, _, keyword, channel, _ = traffic
            manual = _obj([("campaign_id", None), ("campaign_name", _s(campaign)),
                           ("source", _s(source)), ("medium", _s(medium)),
                           ("term", _s(keyword)), ("content", _s(content)),
                           ("source_platform", '"Manual"'), ("creative_format", None),
                           ("marketing_tactic", None)], sparse)
            cross = _obj([("campaign_id", None), ("campaign_name", _s(campaign)),
                          ("source", _s(source)), ("medium", _s(medium)),
                          ("source_platform", '"Manual"'),
                          ("default_channel_group", _s(channel)),
                          ("primary_channel_group", _s(channel))], sparse)
            self._cache[key] = (f',"session_traffic_source_last_click":{{"manual_campaign":'
                                f'{manual},"google_ads_campaign":null,'
                                f'"cross_channel_campaign":{cross}}}')
        return self._cache[key]

    def _item(self, pid: int, price: int, qty: int, revenue: int | None, as_str: bool,
              sparse: bool) -> str:
        name, category = self.products[pid]
        i = self._int(as_str)
        money = None if revenue is None else repr(revenue / 100)
        unset = '"(not set)"'
        return _obj([("item_id", f'"{self.sku(pid)}"'), ("item_name", _s(name)),
                     ("item_brand", unset), ("item_variant", unset),
                     ("item_category", _s(category.capitalize())), ("item_category2", None),
                     ("item_category3", None), ("item_category4", None),
                     ("item_category5", None), ("price_in_usd", repr(price / 100)),
                     ("price", repr(price / 100)), ("quantity", i(qty)),
                     ("item_revenue_in_usd", money), ("item_revenue", money),
                     ("item_refund_in_usd", None), ("item_refund", None), ("coupon", unset),
                     ("affiliation", unset), ("location_id", unset), ("item_list_id", unset),
                     ("item_list_name", unset), ("item_list_index", unset),
                     ("promotion_id", unset), ("promotion_name", unset),
                     ("creative_name", unset), ("creative_slot", unset),
                     ("item_params", "[]")], sparse)
