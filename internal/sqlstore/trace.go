package sqlstore

// schemaTrace keeps with each event the W3C traceparent of the delivery's
// commit span (issue 16): the queue wait and every attempt continue that
// trace, and the event page shows its trace id. Empty when tracing was off.
const schemaTrace = `ALTER TABLE voicehook_events ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';`
