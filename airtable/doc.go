// Package airtable keeps voicehook's jobs and segments in the user's
// Airtable base (--records airtable), the base the seed works with:
// Segments, Jobs and Webhook Events with the seed's field names. The local
// store stays the durable inbox and queue; Airtable is the system of
// record that processing reads and writes.
//
// Facts about the Airtable Web API this package relies on (the verified
// facts of the project brief):
//   - GET/POST/PATCH /v0/{base}/{table}, "Authorization: Bearer <token>";
//     at most 10 records per write; list pages of at most 100 records,
//     continued with "offset".
//   - 5 requests per second per base, shared with the user's own scripts,
//     and lower for a Free or Team workspace over its monthly calls. Over
//     it Airtable answers 429 and wants 30 seconds of silence from the
//     whole client, not a retry of one request; when 429s repeat, the
//     gate lowers its own rate (pace.go).
//   - PATCH with performUpsert updates the record whose merge fields hold
//     the values written, or creates it: the event mirror's idempotent
//     write.
//   - Errors come as {"error":{"type","message"}}, {"error":"NOT_FOUND"}
//     or {"errors":[{"error","message"}]}.
//   - Empty fields are left out on read: an unchecked checkbox is absent.
//   - A linked-record field is an array of record ids, but inside
//     filterByFormula it evaluates to the linked records' primary field
//     values. So the jobs of a segment are found through the segment's
//     inverse link field (the Jobs linked back to it) and
//     OR(RECORD_ID()='recA',RECORD_ID()='recB'), never with
//     FIND(id, ARRAYJOIN(link)).
//   - Without typecast a select value that is not an option fails the
//     write, which is what we want: a typo must fail loudly.
//
// A user's base has the seed's fields and no others, so voicehook writes
// only those, plus optional fields the user names by flag.
//
// Layers: Client speaks HTTP (gate, retries, typed errors); the batcher
// coalesces the reads and writes of concurrent workers into shared
// requests; Records maps voicehook's jobs, segments and events onto
// records.
package airtable
