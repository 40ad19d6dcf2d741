package elevenlabs

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
)

// maxDedupeKeyLen bounds keys so they fit an indexed column comfortably.
const maxDedupeKeyLen = 200

// envelopeKey derives a dedupe key for an ElevenLabs envelope. ElevenLabs
// documents no event id, so the key is the type plus the ids the event
// carries plus its event_timestamp: a redelivery is the same body, while a
// second event about the same object (a Studio project failing again an hour
// later, a new conversion) differs in its timestamp, type or
// conversion_status. An envelope without a timestamp has a short hash of its
// body in its place, and one without any id the whole body's hash. Values
// are query-escaped and sorted by name, so the key is unambiguous and
// deterministic.
func envelopeKey(body []byte, segmentID, typ string, d *wireData, ts looseString) string {
	v := url.Values{}
	add := func(name string, val looseString) {
		if val != "" {
			v.Set(name, string(val))
		}
	}
	add("conversation_id", d.ConversationID)
	add("project_id", d.ProjectID)
	add("project_snapshot_id", d.ProjectSnapshotID)
	add("chapter_id", d.ChapterID)
	add("chapter_snapshot_id", d.ChapterSnapshotID)
	add("request_id", d.RequestID)
	if len(v) == 0 {
		return hashedEnvelopeKey(body, segmentID, typ)
	}
	// A status alone identifies nothing, so it only refines an id.
	add("conversion_status", d.ConversionStatus)
	add("segment_id", looseString(segmentID))
	if ts != "" {
		add("event_timestamp", ts)
	} else {
		// 64 bits tell two bodies apart well enough for one set of ids.
		add("body", looseString(sha256Hex(body)[:16]))
	}
	return capKey("el:" + url.QueryEscape(typ) + ":" + v.Encode())
}

func hashedEnvelopeKey(body []byte, segmentID, typ string) string {
	v := url.Values{"sha256": {sha256Hex(body)}}
	if segmentID != "" {
		v.Set("segment_id", segmentID)
	}
	return capKey("el:" + url.QueryEscape(typ) + ":" + v.Encode())
}

// capKey hashes keys longer than maxDedupeKeyLen, keeping their "el:",
// "seed:" or "raw:" prefix so operators can still tell the forms apart.
func capKey(key string) string {
	if len(key) <= maxDedupeKeyLen {
		return key
	}
	prefix, _, _ := strings.Cut(key, ":")
	return prefix + ":sha256=" + sha256Hex([]byte(key))
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// seedKey is the dedupe key Parse gives the seed's {"status":…} form.
func seedKey(body []byte, segmentID string) string {
	return capKey("seed:" + segmentID + ":" + sha256Hex(body))
}

// rawKey is the dedupe key Parse gives a body of no known form.
func rawKey(body []byte, segmentID string) string {
	return capKey("raw:" + segmentID + ":" + sha256Hex(body))
}
