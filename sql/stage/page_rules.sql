-- stage.page_rules: one row per page rule, loaded from sql/seeds/page_rules.csv.
-- The shop's business rules as data: which page paths are which funnel step and ecommerce
-- action. The first matching rule by priority wins; edit the CSV, not the SQL, to change them.
-- column priority: lower wins when several patterns match
-- column pattern: regular expression over the page path
-- column page_type: home, category, product, cart, checkout, confirmation, other
-- column funnel_step: the funnel step a pageview of this page reaches, if any
-- column funnel_order: the step's position in the funnel (1 = first)
-- column ecommerce_action: add_to_cart or purchase when viewing the page means that

select
    priority::integer as priority,
    pattern::varchar as pattern,
    page_type::varchar as page_type,
    funnel_step::varchar as funnel_step,
    funnel_order::integer as funnel_order,
    ecommerce_action::varchar as ecommerce_action
from read_csv($sql_dir || '/seeds/page_rules.csv', header = true, all_varchar = true)
