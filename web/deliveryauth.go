package web

// Who may deliver what. A delivery is proven by the segment's callback token
// (senders that cannot sign, such as Studio's callback_url) or by a valid
// ElevenLabs-Signature. The segment_id in the query string is outside the
// signed body, so a signature alone must not pick the segment: anyone
// holding one signed delivery could post it again naming another segment and
// finish that segment's job. So a delivery that names a segment needs that
// segment's token, signed or not, unless --segment-token=optional. What the
// headers can prove is checked before a byte of the body is read.

import (
	"io"
	"net/http"
	"strings"

	"github.com/voicehook/voicehook/elevenlabs"
)

// proof is what the headers established about a delivery: either the token
// proved it, or check verifies the body's signature as it streams in.
type proof struct {
	byToken bool
	check   *elevenlabs.Check
	// signature describes the signature header for the stored event (never
	// its value).
	signature string
}

// refusal is why a delivery is refused: a metrics label and a message safe
// to show the sender.
type refusal struct{ reason, msg string }

// authorizeHeaders decides from the query and headers alone.
func (s *Server) authorizeHeaders(r *http.Request, segmentID string) (proof, *refusal) {
	header := r.Header.Get(elevenlabs.HeaderName)
	if header == "" {
		// ElevenLabs' own pages also spell it this way; same scheme.
		header = r.Header.Get("X-ElevenLabs-Signature")
	}
	tok := r.URL.Query().Get("token")
	if tok != "" {
		if segmentID == "" {
			return proof{}, &refusal{"bad_token", "a callback token needs the segment_id it was made for"}
		}
		if s.Tokens.Valid(segmentID, tok) {
			// The token proves the delivery; a signature header beside it
			// is not needed, so a bad one does not refuse it.
			return proof{byToken: true, signature: describeUnchecked(header)}, nil
		}
		if !s.SegmentTokenOptional {
			return proof{}, &refusal{"bad_token", "invalid callback token for this segment_id"}
		}
	} else if segmentID != "" && !s.SegmentTokenOptional {
		return proof{}, &refusal{"missing_token", "a delivery naming segment_id must carry that segment's callback token (&token=…): " +
			"use the job's callback_url, GET /api/segments/{id} or `voicehook callback-url --segment-id …`"}
	}
	if header == "" {
		return proof{}, &refusal{"missing", "missing " + elevenlabs.HeaderName + " header (or callback token)"}
	}
	check, err := s.Verifier.Begin(header)
	if err != nil {
		return proof{}, &refusal{elevenlabs.Reason(err), "invalid signature: " + err.Error()}
	}
	return proof{check: check, signature: "present, valid"}, nil
}

// sink is where the body goes as it is read: the signature check, if the
// signature is to prove the delivery.
func (p proof) sink() io.Writer {
	if p.check == nil {
		return io.Discard
	}
	return p.check
}

// verifyBody finishes a signature check once the body is in.
func (p proof) verifyBody() *refusal {
	if p.byToken {
		return nil
	}
	if err := p.check.Verify(); err != nil {
		return &refusal{elevenlabs.Reason(err), "invalid signature: " + err.Error()}
	}
	return nil
}

func describeUnchecked(header string) string {
	if header == "" {
		return ""
	}
	return "present, not checked (callback token)"
}

// shownHeaders is what operators see of a stored event's headers: events
// stored before the signature's value stopped being kept show only that it
// was present and valid (nothing unauthenticated is ever stored).
func shownHeaders(h map[string]string) map[string]string {
	v, ok := h[elevenlabs.HeaderName]
	if !ok || !isSignatureValue(v) {
		return h
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	out[elevenlabs.HeaderName] = "present, valid"
	return out
}

// isSignatureValue: a raw header value ("t=…,v0=…") rather than a description.
func isSignatureValue(v string) bool {
	return strings.Contains(v, "t=") || strings.Contains(v, "v0=")
}
