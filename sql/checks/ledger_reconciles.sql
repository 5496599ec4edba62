-- checks.ledger_reconciles: every loaded file's rows in = rows loaded + rows rejected, and its
-- loaded rows are all in raw.
-- severity: error
-- layer: stage
select landing_uri, rows_in, rows_loaded, rows_rejected
from ops.load_ledger
where rows_in <> rows_loaded + rows_rejected
