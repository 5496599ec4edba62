-- checks.orders_priced: every ordered item found its product's price at order time.
-- severity: warn
-- layer: stage
select order_id, unpriced_items
from stage.orders
where unpriced_items > 0 and order_date in (select unnest($days::date[]))
