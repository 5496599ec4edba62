-- checks.events_disagree: no event (a GA360 visit) has duplicates that disagree: copies under
-- one id with different content. Stage keeps the copy that arrived first (never the one whose
-- file name sorts first); each row here is an id whose other copies were dropped. Each format
-- says how it finds them in disagree.sql.
-- severity: warn
-- layer: stage
-- union: disagree.sql
select source_format, day, event_id, copies, versions
from source_rows
