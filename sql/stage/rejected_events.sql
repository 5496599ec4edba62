-- stage.rejected_events: one row per source line that never became a raw row, with why.
-- materialized: view
-- Lines that were not JSON objects (rejected at extract) and lines that lacked a required field
-- or whose value did not cast (rejected at load), for every stream; duplicates are not
-- rejections (stage keeps the first copy) and are counted by the reconciliation check instead.
-- column stream: the source stream
-- column source_file: the source object the line came from
-- column line_no: the line's number in that file (1-based)
-- column reason: why it was rejected ('missing click_id', 'invalid JSON', ...)
-- column reason_detail: the reason with the offending value, when there is one
-- column line: the line as sent
-- column batch_id: the load batch that rejected it
-- column rejected_at: when it was rejected
-- column rejected_date: the day it was rejected (UTC)
-- A view over ops.rejected_rows, so it is current as soon as a load commits and costs nothing
-- to keep: rebuilt as a table it copied every rejected line of the history each hour.

with

rejected as (
    select * from ops.rejected_rows
),

final as (
    select
        stream,
        source_uri as source_file,
        line_no,
        split_part(reason, ':', 1) as reason,
        reason as reason_detail,
        line,
        batch_id,
        rejected_at,
        (rejected_at at time zone 'UTC')::date as rejected_date
    from rejected
)

select * from final
