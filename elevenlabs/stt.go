package elevenlabs

// Speech to text (POST /v1/speech-to-text) takes the audio as a multipart
// upload. A voiceover may be tens of megabytes, so the form is written into
// an io.Pipe by a goroutine while the HTTP client sends it: the audio is
// never held in memory, and the request goes out chunked. The fields come
// before the file so the server has them before the audio.
//
// With Webhook the answer only acknowledges the request (its request_id is
// how the transcript delivered later is matched, see transcription.go);
// without, the answer is the transcription itself.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"

	"github.com/voicehook/voicehook"
)

// DefaultSTTModel is the speech-to-text model Transcribe asks for when a
// request names none.
const DefaultSTTModel = "scribe_v1"

// MaxWebhookMetadataBytes is ElevenLabs' limit on webhook_metadata, as
// encoded JSON.
const MaxWebhookMetadataBytes = 16 << 10

// ErrTranscriptTooLarge: the speech-to-text answer is over STT.MaxBytes.
var ErrTranscriptTooLarge = errors.New("speech-to-text answer too large")

// DefaultMaxTranscriptBytes bounds a speech-to-text answer: an hour of
// speech is some 20,000 tokens of about 100 bytes each, well under this.
const DefaultMaxTranscriptBytes = 32 << 20

// ErrMalformedTranscription is wrapped by Transcribe's error when
// ElevenLabs answered 2xx with something unusable (not JSON, no text, no
// request_id). Such a glitch is worth a retry.
var ErrMalformedTranscription = errors.New("malformed speech-to-text answer")

// STT transcribes audio with ElevenLabs speech to text.
type STT struct {
	// BaseURL is required: there is deliberately no default, so that a
	// test or a misconfiguration can never spend real credits.
	BaseURL string
	// APIKey is sent as xi-api-key. It never appears in errors.
	APIKey string
	// HTTP defaults to http.DefaultClient; redirects are never followed
	// (they would carry the key elsewhere). Bound each call with ctx.
	HTTP *http.Client
	// MaxBytes caps the answer's body; 0 means DefaultMaxTranscriptBytes.
	MaxBytes int64
}

// TranscribeRequest is one speech-to-text request.
type TranscribeRequest struct {
	// ModelID defaults to DefaultSTTModel.
	ModelID string
	// Exactly one of File (the audio, streamed; FileName defaults to
	// "audio", ContentType to application/octet-stream) and
	// CloudStorageURL (an https URL ElevenLabs downloads the audio from).
	File                  io.Reader
	FileName, ContentType string
	CloudStorageURL       string
	// LanguageCode (ISO 639-1 or -3), if set, spares the detection.
	LanguageCode string
	// Webhook asks for the transcript to be delivered to the workspace's
	// speech-to-text webhooks; the answer then only acknowledges it.
	Webhook bool
	// WebhookMetadata is returned with the delivered transcript. Only with
	// Webhook; at most MaxWebhookMetadataBytes once encoded.
	WebhookMetadata map[string]string
}

// TranscribeResult is ElevenLabs' answer. With Webhook, RequestID (always
// set), TranscriptionID (if given) and Message acknowledge the request;
// without, Transcript is the transcription, RequestID the answer's
// request-id and TranscriptionID its transcription_id, when present.
type TranscribeResult struct {
	RequestID, TranscriptionID, Message string
	Transcript                          *voicehook.Transcript
}

// Transcribe sends req. Errors:
//   - a non-2xx answer is an *APIError (use errors.As); its Temporary,
//     RateLimited and Permanent methods say what to do, and permanent ones
//     (every 4xx but 408 and 429) come wrapped in a
//     *voicehook.PermanentError too;
//   - a request that cannot be right (no key, both or neither of File and
//     CloudStorageURL, a URL that is not https, metadata too large or
//     without Webhook) is a *voicehook.PermanentError, and nothing is sent;
//   - a 2xx answer that is unusable wraps ErrMalformedTranscription
//     (temporary); one larger than MaxBytes is permanent;
//   - network errors, timeouts, cancellations and a File that fails to
//     read are returned wrapped, and are temporary.
func (c *STT) Transcribe(ctx context.Context, req TranscribeRequest) (TranscribeResult, error) {
	res, err := c.transcribe(ctx, req)
	if err != nil {
		return TranscribeResult{}, fmt.Errorf("ElevenLabs speech to text: %w", err)
	}
	return res, nil
}

func (c *STT) transcribe(ctx context.Context, req TranscribeRequest) (TranscribeResult, error) {
	if strings.TrimSpace(c.BaseURL) == "" {
		return TranscribeResult{}, voicehook.Permanent("no ElevenLabs base URL configured", nil)
	}
	base, err := checkBaseURL(c.BaseURL)
	if err != nil {
		return TranscribeResult{}, err
	}
	key := strings.TrimSpace(c.APIKey)
	if key == "" {
		return TranscribeResult{}, voicehook.Permanent("no ElevenLabs API key to transcribe with", nil)
	}
	fields, err := formFields(req)
	if err != nil {
		return TranscribeResult{}, err
	}

	pr, pw := io.Pipe()
	form := multipart.NewWriter(pw)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/speech-to-text", pr)
	if err != nil {
		return TranscribeResult{}, voicehook.Permanent("building the speech-to-text request", err)
	}
	hreq.Header.Set("Content-Type", form.FormDataContentType())
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("xi-api-key", key)

	var file *audioReader
	if req.File != nil {
		file = &audioReader{r: req.File}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeForm(form, fields, file, req.FileName, req.ContentType))
	}()
	// However the call ends, stop the writer (it may be blocked on a pipe
	// nobody reads any more) and wait for it, so no goroutine outlives it.
	stop := sync.OnceFunc(func() {
		pr.CloseWithError(errRequestOver)
		<-done
	})
	defer stop()

	resp, err := noRedirects(c.HTTP).Do(hreq)
	if err != nil {
		stop() // file.err is the writer's to set until then
		if file != nil && file.err != nil {
			return TranscribeResult{}, fmt.Errorf("reading the audio: %w", file.err)
		}
		return TranscribeResult{}, err // the *url.Error names the URL, never the key
	}
	defer resp.Body.Close()
	raw, err := readAnswer(resp, key, c.MaxBytes, DefaultMaxTranscriptBytes, ErrTranscriptTooLarge)
	if err != nil {
		return TranscribeResult{}, err
	}
	if req.Webhook {
		return decodeAcknowledgement(raw)
	}
	return decodeTranscription(raw, resp.Header.Get("request-id"))
}

// formFields checks req and lists its form fields, in the order sent.
func formFields(req TranscribeRequest) ([][2]string, error) {
	cloud := strings.TrimSpace(req.CloudStorageURL)
	if (req.File == nil) == (cloud == "") {
		return nil, voicehook.Permanent("a transcription needs exactly one of an audio file and a cloud storage URL", nil)
	}
	if cloud != "" {
		// The URL is not quoted: a signed URL's query is a credential.
		if u, err := url.Parse(cloud); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, voicehook.Permanent("the cloud storage URL must be an https URL", nil)
		}
	}
	fields := [][2]string{{"model_id", cmp.Or(strings.TrimSpace(req.ModelID), DefaultSTTModel)}}
	if cloud != "" {
		fields = append(fields, [2]string{"cloud_storage_url", cloud})
	}
	if lang := strings.TrimSpace(req.LanguageCode); lang != "" {
		fields = append(fields, [2]string{"language_code", lang})
	}
	fields = append(fields, [2]string{"timestamps_granularity", "word"}, [2]string{"webhook", fmt.Sprint(req.Webhook)})
	if len(req.WebhookMetadata) > 0 {
		if !req.Webhook {
			return nil, voicehook.Permanent("webhook metadata is only sent with a webhook request", nil)
		}
		meta, err := json.Marshal(req.WebhookMetadata)
		if err != nil {
			return nil, voicehook.Permanent("encoding the webhook metadata", err)
		}
		if len(meta) > MaxWebhookMetadataBytes {
			return nil, voicehook.Permanent(fmt.Sprintf("the webhook metadata is %d bytes once encoded, over ElevenLabs' limit of %d", len(meta), MaxWebhookMetadataBytes), nil)
		}
		fields = append(fields, [2]string{"webhook_metadata", string(meta)})
	}
	return fields, nil
}

// errRequestOver stops the form's writer once the request is over.
var errRequestOver = errors.New("speech-to-text request over")

// fileNameEscaper quotes a file name as mime/multipart does.
var fileNameEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// writeForm writes the multipart body: the fields, then the file if any.
func writeForm(form *multipart.Writer, fields [][2]string, file *audioReader, name, contentType string) error {
	for _, f := range fields {
		if err := form.WriteField(f[0], f[1]); err != nil {
			return fmt.Errorf("writing the %s field: %w", f[0], err)
		}
	}
	if file != nil {
		// clean drops line breaks, which would end the part's header.
		name = cmp.Or(clean(name, 200), "audio")
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+fileNameEscaper.Replace(name)+`"`)
		h.Set("Content-Type", cmp.Or(clean(contentType, 100), "application/octet-stream"))
		part, err := form.CreatePart(h)
		if err != nil {
			return fmt.Errorf("writing the file part: %w", err)
		}
		if _, err := io.Copy(part, file); err != nil {
			if file.err != nil {
				return fmt.Errorf("reading the audio: %w", file.err)
			}
			return fmt.Errorf("sending the audio: %w", err)
		}
	}
	return form.Close()
}

// audioReader remembers the audio's read error, to tell it from the
// pipe's when the request fails.
type audioReader struct {
	r   io.Reader
	err error
}

func (a *audioReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		a.err = err
	}
	return n, err
}

// decodeAcknowledgement reads the answer to a webhook request.
func decodeAcknowledgement(raw []byte) (TranscribeResult, error) {
	var ack struct {
		Message         string      `json:"message"`
		RequestID       looseString `json:"request_id"`
		TranscriptionID looseString `json:"transcription_id"`
	}
	if err := json.Unmarshal(raw, &ack); err != nil {
		return TranscribeResult{}, fmt.Errorf("%w: not JSON (%s): %s", ErrMalformedTranscription, err, clean(string(raw), 120))
	}
	if ack.RequestID == "" {
		return TranscribeResult{}, fmt.Errorf("%w: no request_id in the webhook request's answer: %s", ErrMalformedTranscription, clean(string(raw), 120))
	}
	return TranscribeResult{
		RequestID:       string(ack.RequestID),
		TranscriptionID: string(ack.TranscriptionID),
		Message:         clean(ack.Message, 300),
	}, nil
}

// decodeTranscription reads the answer to a request without webhook: the
// transcription object, the same as the webhook's bare form.
func decodeTranscription(raw []byte, requestID string) (TranscribeResult, error) {
	var w wireTranscription
	if err := json.Unmarshal(raw, &w); err != nil {
		return TranscribeResult{}, fmt.Errorf("%w: %s: %s", ErrMalformedTranscription, err, clean(string(raw), 120))
	}
	if w.Text == nil {
		return TranscribeResult{}, fmt.Errorf("%w: no text: %s", ErrMalformedTranscription, clean(string(raw), 120))
	}
	t := w.transcript()
	return TranscribeResult{
		RequestID:       cmp.Or(clean(requestID, 200), string(w.RequestID)),
		TranscriptionID: string(w.TranscriptionID),
		Transcript:      &t,
	}, nil
}
