package sqlstore

// schemaTrace: the trace context kept with each event (issue 16). Filled in
// by that work.
const schemaTrace = `SELECT 1;`
