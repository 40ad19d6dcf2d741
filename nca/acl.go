package nca

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// NCA opens every S3 upload with an ACL: public-read when asked for a
// public file, which voicehook always does, else private
// (services/v1/s3/upload.py, create_multipart_upload(ACL=…)). A bucket
// whose Object Ownership is "Bucket owner enforced" (ACLs disabled, the
// default for new AWS buckets since April 2023) refuses any ACL but
// bucket-owner-full-control with 400 AccessControlListNotSupported; boto3
// raises that as a ClientError, and NCA answers HTTP 500 with its text as
// the envelope's message:
//
//	An error occurred (AccessControlListNotSupported) when calling the
//	CreateMultipartUpload operation: The bucket does not allow ACLs
//
// It happens before NCA downloads anything, on every upload, and no retry
// changes the bucket: the error is permanent.

// aclsDisabledReason says what to change. It is the whole message the
// event fails with, and what doctor prints.
const aclsDisabledReason = `nca: NCA's S3 bucket has ACLs disabled (its Object Ownership is "Bucket owner enforced"), ` +
	`and NCA sets the public-read ACL on every upload: set the bucket's Object Ownership to "Bucket owner preferred" ` +
	`(ACLs enabled) and let its Block Public Access settings allow public ACLs, or use --storage s3, which needs no ACLs`

// aclsDisabled recognises NCA's message for that refusal by S3's error
// code, which every S3-compatible store that copies AWS uses.
func aclsDisabled(msg string) bool {
	return strings.Contains(msg, "(AccessControlListNotSupported)")
}

// probeURL is a file_url NCA accepts (its schema does not check formats)
// but cannot download: requests has no adapter for the scheme and fails at
// once, without touching the network ("No connection adapters were found
// for '…'").
const probeURL = "voicehook-doctor-probe:never-downloaded"

// CheckUploads asks NCA for a public upload it cannot complete, to learn
// whether its bucket takes the public-read ACL. NCA opens the S3 upload
// (with the ACL) before it downloads the file, so a bucket with ACLs
// disabled refuses at once, and any other bucket gets as far as the
// download of probeURL, which fails: no file is ever stored. (On AWS the
// opened upload stays as an empty, incomplete multipart upload, which
// costs nothing and which a lifecycle rule for incomplete uploads
// removes.) NCA has had that order since its streaming upload (2025).
func (s *Storage) CheckUploads(ctx context.Context) error {
	const what = "POST /v1/s3/upload"
	body, err := json.Marshal(uploadRequest{FileURL: probeURL, Filename: "voicehook-doctor/acl-probe", Public: true})
	if err != nil {
		return fmt.Errorf("nca: encode probe: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/s3/upload", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("nca: %s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-API-Key", s.apiKey)
	resp, err := s.api.Do(req)
	if err != nil {
		return fmt.Errorf("nca: cannot reach the NCA Toolkit at %s: %w: check --nca-url and that NCA is running", s.base, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("nca: %s: read reply: %w", what, err)
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError:
	case http.StatusOK:
		return fmt.Errorf("nca: %s: NCA claims to have stored a file it cannot have downloaded: %s", what, s.snippet(reply))
	default:
		return s.statusError(what, resp, reply)
	}
	msg := s.message(reply)
	switch {
	case aclsDisabled(msg):
		return errors.New(aclsDisabledReason)
	case strings.Contains(msg, probeURL):
		return nil // past the ACL, stopped at the download, as planned
	default:
		return fmt.Errorf("nca: %s: NCA could not open an upload in its bucket (HTTP 500): %s", what, msg)
	}
}
