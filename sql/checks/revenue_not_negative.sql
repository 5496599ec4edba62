-- checks.revenue_not_negative: no order and no day has negative revenue.
-- severity: error
-- layer: mart
select order_id as id, revenue from stage.orders
where revenue < 0 and order_date in (select unnest($days::date[]))
union all
select date::varchar, revenue from mart.daily_kpis
where revenue < 0 and date in (select unnest($days::date[]))
