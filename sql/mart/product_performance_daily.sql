-- mart.product_performance_daily: one row per day and product that was added to a cart or sold.
-- partition: date
-- depends_on: stage.events, stage.order_items, stage.products
-- Add-to-carts count on the day they happen; orders, units and revenue on the day the order
-- was paid, at the price valid then. Name, category and price are the product's version at
-- the end of the day.
-- column date: the day
-- column product_id: the shop's product id
-- column product_name: the product's name that day
-- column category: the product's category that day
-- column price: the product's unit price at the end of the day
-- column price_band: the price's band ('0-25', '25-50', '50-100', '100-200', '200+')
-- column add_to_carts: times the product was added to a cart that day
-- column orders: orders paid that day that contain the product
-- column units: units of the product in those orders
-- column revenue: revenue of those units

with

days as (
    select unnest($days::date[]) as day
),

carts as (
    select event_date as date, product_id, count(*) as add_to_carts
    from stage.events
    where ecommerce_action = 'add_to_cart'
      and event_date between $first_day::date and $last_day::date
      and event_date in (select day from days)
    group by all
),

sold as (
    select
        order_date as date,
        product_id,
        count(distinct order_id) as orders,
        count(*) as units,
        sum(price) as revenue
    from stage.order_items
    where order_date between $first_day::date and $last_day::date
      and order_date in (select day from days)
    group by all
),

activity as (
    select
        date,
        product_id,
        coalesce(c.add_to_carts, 0) as add_to_carts,
        coalesce(s.orders, 0) as orders,
        coalesce(s.units, 0) as units,
        coalesce(s.revenue, 0)::decimal(18, 2) as revenue
    from carts as c
    full join sold as s using (date, product_id)
),

-- the version in force at the end of the day, else the closest one before it
versions as (
    select
        a.date,
        a.product_id,
        p.name,
        p.category,
        p.price
    from activity as a
    left join stage.products as p on p.product_id = a.product_id
    qualify row_number() over (
        partition by a.date, a.product_id
        order by p.valid_from < ((a.date + 1)::timestamp at time zone $tz) desc,
            p.valid_from desc
    ) = 1
),

final as (
    select
        a.date,
        a.product_id,
        v.name as product_name,
        v.category,
        v.price,
        case
            when v.price is null then null
            when v.price < 25 then '0-25'
            when v.price < 50 then '25-50'
            when v.price < 100 then '50-100'
            when v.price < 200 then '100-200'
            else '200+'
        end as price_band,
        a.add_to_carts,
        a.orders,
        a.units,
        a.revenue
    from activity as a
    inner join versions as v using (date, product_id)
)

select * from final
