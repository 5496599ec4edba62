-- checks.orders_unique: no order appears twice in stage.orders.
-- severity: error
-- layer: stage
select order_id, count(*) as copies
from stage.orders
where order_date in (select unnest($days::date[]))
group by order_id
having count(*) > 1
