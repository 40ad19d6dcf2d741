package sqlstore

// schemaTimeline: the overview's charts (issue 16). Filled in by that work.
const schemaTimeline = `SELECT 1;`
