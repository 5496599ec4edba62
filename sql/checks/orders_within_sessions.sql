-- checks.orders_within_sessions: a day never has more orders than sessions.
-- severity: warn
-- layer: mart
select date, orders, sessions
from mart.daily_kpis
where orders > sessions and date in (select unnest($days::date[]))
