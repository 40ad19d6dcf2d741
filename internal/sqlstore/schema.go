package sqlstore

import "strings"

// migrations are voicehook's own tables; River keeps its own migrations.
// Times are integer microseconds since the Unix epoch. {{BLOB}} is the
// dialect's byte-string type; everything else is the same SQL in both.
func migrations(d Dialect) []Migration {
	blob := "BLOB"
	if d == Postgres {
		blob = "BYTEA"
	}
	return []Migration{
		{Version: 1, SQL: strings.ReplaceAll(schemaV1, "{{BLOB}}", blob)},
		{Version: 2, SQL: schemaV2},
		{Version: 3, SQL: schemaV3},
		{Version: 4, SQL: strings.ReplaceAll(schemaSpool, "{{BLOB}}", blob)}, // spool.go
		{Version: 5, SQL: voicesMigration(d)},                                // voices.go
		{Version: 6, SQL: schemaQA},                                          // qa.go
		{Version: 7, SQL: schemaTimeline},                                    // timeline.go
		{Version: 8, SQL: schemaTrace},                                       // trace.go
		{Version: 9, SQL: schemaWaits},                                       // waits.go
	}
}

// schemaV3 adds the replicas' heartbeats: each process sharing PostgreSQL
// renews its row every few seconds, and the work of a process whose row has
// gone stale is retried by the others (see replicas.go). id is the River
// client ID, which River records in river_job.attempted_by.
const schemaV3 = `
CREATE TABLE voicehook_replicas (
	id         TEXT PRIMARY KEY,
	started_at BIGINT NOT NULL,
	seen_at    BIGINT NOT NULL
);
`

// schemaV2 adds generation: the state of the jobs voicehook generates
// (kept here whatever keeps the records) and the segments' captions.
const schemaV2 = `
ALTER TABLE voicehook_segments ADD COLUMN captions TEXT NOT NULL DEFAULT '';

CREATE TABLE voicehook_generations (
	job_id       TEXT PRIMARY KEY,
	segment_id   TEXT NOT NULL,
	script       TEXT NOT NULL,
	seq_group    TEXT NOT NULL DEFAULT '',
	seq_position INTEGER NOT NULL DEFAULT 0,
	state        TEXT NOT NULL,
	parts        TEXT NOT NULL DEFAULT '[]',
	characters   INTEGER NOT NULL DEFAULT 0,
	audio        TEXT NOT NULL DEFAULT '',
	captions     TEXT NOT NULL DEFAULT '',
	cues         TEXT NOT NULL DEFAULT '[]',
	error        TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL
);
CREATE INDEX voicehook_generations_sequence ON voicehook_generations (seq_group, seq_position);
CREATE INDEX voicehook_generations_updated ON voicehook_generations (updated_at);
CREATE INDEX voicehook_generations_segment ON voicehook_generations (segment_id, updated_at);
`

const schemaV1 = `
CREATE TABLE voicehook_events (
	id            TEXT PRIMARY KEY,
	service       TEXT NOT NULL,
	endpoint      TEXT NOT NULL,
	dedupe_key    TEXT NOT NULL UNIQUE,
	type          TEXT NOT NULL,
	segment_id    TEXT NOT NULL DEFAULT '',
	raw_payload   {{BLOB}} NOT NULL,
	headers       TEXT NOT NULL DEFAULT '{}',
	received_at   BIGINT NOT NULL,
	status        TEXT NOT NULL,
	error_details TEXT NOT NULL DEFAULT '',
	related_job   TEXT NOT NULL DEFAULT '',
	attempts      INTEGER NOT NULL DEFAULT 0,
	enqueued      INTEGER NOT NULL DEFAULT 0,
	updated_at    BIGINT NOT NULL
);
CREATE INDEX voicehook_events_received ON voicehook_events (received_at, id);
CREATE INDEX voicehook_events_status ON voicehook_events (status, received_at);
CREATE INDEX voicehook_events_segment ON voicehook_events (segment_id, received_at);
CREATE INDEX voicehook_events_pending ON voicehook_events (received_at) WHERE enqueued = 0;

CREATE TABLE voicehook_attempts (
	event_id    TEXT NOT NULL,
	attempt     INTEGER NOT NULL,
	started_at  BIGINT NOT NULL,
	finished_at BIGINT NOT NULL,
	outcome     TEXT NOT NULL,
	error       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (event_id, attempt)
);

CREATE TABLE voicehook_segments (
	id          TEXT PRIMARY KEY,
	status      TEXT NOT NULL,
	voiceover   TEXT NOT NULL DEFAULT '',
	sha256      TEXT NOT NULL DEFAULT '',
	bytes       BIGINT NOT NULL DEFAULT 0,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);

CREATE TABLE voicehook_jobs (
	id            TEXT PRIMARY KEY,
	segment_id    TEXT NOT NULL,
	type          TEXT NOT NULL,
	status        TEXT NOT NULL,
	external_id   TEXT NOT NULL DEFAULT '',
	error_details TEXT NOT NULL DEFAULT '',
	created_at    BIGINT NOT NULL,
	completed_at  BIGINT NOT NULL DEFAULT 0,
	failed_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX voicehook_jobs_segment ON voicehook_jobs (segment_id, created_at);
CREATE INDEX voicehook_jobs_external ON voicehook_jobs (external_id) WHERE external_id <> '';
CREATE INDEX voicehook_jobs_status ON voicehook_jobs (status, created_at);

CREATE TABLE voicehook_claims (
	job_id     TEXT PRIMARY KEY,
	event_id   TEXT NOT NULL,
	claimed_at BIGINT NOT NULL
);

CREATE TABLE voicehook_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`
