package nca

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/voicehook/voicehook"
)

// maxReply bounds how much of an NCA reply is read; real ones are < 1 KiB.
const maxReply = 1 << 20

// uploadRequest is the body of POST /v1/s3/upload
// (routes/v1/s3/upload.py). public must be true: without it NCA stores the
// file privately and returns a presigned link that expires in an hour.
type uploadRequest struct {
	FileURL  string `json:"file_url"`
	Filename string `json:"filename"`
	Public   bool   `json:"public"`
}

// Put stages obj, has NCA copy it into its bucket under obj.Key, and checks
// the size of the copy at the public link NCA returns. NCA uses filename as
// the S3 object key as it is, slashes included
// (services/v1/s3/upload.py: Key=filename, link
// {S3_ENDPOINT_URL}/{bucket}/{quote(filename)}), so the bucket is organised
// by segment like the other backends' (segments/<segment>/<sha256>.<ext>).
// The key carries the audio's hash, so putting it again overwrites the same
// object with the same bytes.
func (s *Storage) Put(ctx context.Context, obj voicehook.AudioObject) (voicehook.StoredAudio, error) {
	if err := checkKey(obj.Key); err != nil {
		return voicehook.StoredAudio{}, err
	}
	fileURL, err := s.stage(ctx, obj)
	if err != nil {
		return voicehook.StoredAudio{}, fmt.Errorf("nca: stage %s for NCA: %w", obj.Key, err)
	}
	stored, err := s.upload(ctx, uploadRequest{FileURL: fileURL, Filename: obj.Key, Public: true})
	if err != nil {
		return voicehook.StoredAudio{}, err
	}
	n, err := s.remoteSize(ctx, stored)
	if err != nil {
		return voicehook.StoredAudio{}, err
	}
	if n != obj.Bytes {
		return voicehook.StoredAudio{}, fmt.Errorf("nca: NCA's copy at %s has %d bytes, staged %d", stored, n, obj.Bytes)
	}
	ct := obj.ContentType
	if ct == "" {
		ct = voicehook.ContentTypeOf(obj.Key)
	}
	return voicehook.StoredAudio{
		URL:    stored,
		Key:    obj.Key,
		SHA256: obj.SHA256, // NCA exposes no hash; the size was checked
		Bytes:  obj.Bytes,
		// DurationMS and ContentType describe the audio, not where it is.
		DurationMS:  obj.DurationMS,
		ContentType: ct,
	}, nil
}

// upload asks NCA to copy req.FileURL and returns the public link.
func (s *Storage) upload(ctx context.Context, ur uploadRequest) (string, error) {
	const what = "POST /v1/s3/upload"
	body, err := json.Marshal(ur)
	if err != nil {
		return "", fmt.Errorf("nca: encode upload request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/s3/upload", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("nca: %s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-API-Key", s.apiKey)
	resp, err := s.api.Do(req)
	if err != nil {
		// Network trouble or a timeout: NCA may still finish the copy,
		// which a retry overwrites harmlessly.
		return "", fmt.Errorf("nca: %s: %w", what, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return "", fmt.Errorf("nca: %s: read reply: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", s.statusError(what, resp, reply)
	}
	u, err := s.parseUpload(reply)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}
