package s3

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/voicehook/voicehook"
)

// S3 error codes that no retry fixes, with what the operator should do.
// Codes: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
var permanentCodes = map[string]string{
	"AccessDenied":                 "S3 denied access: give the credentials s3:PutObject and s3:GetObject on the bucket",
	"AllAccessDisabled":            "S3 denied access: all access to the bucket is disabled",
	"AccountProblem":               "S3 denied access: the account has a problem; check it in the provider's console",
	"InvalidAccessKeyId":           "S3 does not know the access key: check the S3 access key",
	"SignatureDoesNotMatch":        "S3 rejected the request signature: check the S3 secret key",
	"InvalidToken":                 "S3 rejected the session token: refresh AWS_SESSION_TOKEN or use long-lived keys",
	"ExpiredToken":                 "S3 credentials have expired: refresh AWS_SESSION_TOKEN or use long-lived keys",
	"AuthorizationHeaderMalformed": "S3 rejected the request's region: set the S3 region to the bucket's region",
	"PermanentRedirect":            "the bucket lives in another region or endpoint: set the S3 region and endpoint to match it",
	"NoSuchBucket":                 "the bucket does not exist: create it, or fix the S3 bucket name, endpoint or region",
	"InvalidBucketName":            "the bucket name is not valid: fix the S3 bucket name",
	"KeyTooLongError":              "S3 rejected the object key as too long",
	"InvalidObjectName":            "S3 rejected the object key",
	"XMinioInvalidObjectName":      "S3 rejected the object key",
	"InvalidURI":                   "S3 rejected the object key",
	"EntityTooLarge":               "S3 rejected the object as too large",
	"InvalidStorageClass":          "S3 rejected the storage class",
	"NotImplemented":               "the S3 endpoint does not implement this request: it may not be S3-compatible enough",
}

// transientCodes are 4xx codes that a retry can fix; 5xx are always
// transient.
var transientCodes = map[string]bool{
	"RequestTimeout":       true, // 400: the upload was too slow
	"RequestTimeTooSkewed": true, // 403: our clock is off; fixable without failing the job
	"BadDigest":            true, // 400: the body was damaged on the way
	"IncompleteBody":       true,
	"OperationAborted":     true, // 409: a conflicting operation is in progress
	"NoSuchKey":            true, // the object we just wrote is not visible yet
	"SlowDown":             true,
	"ServiceUnavailable":   true,
	"InternalError":        true,
}

// classify wraps err from a minio-go call as a voicehook error: permanent
// when only a change of configuration can fix it, transient otherwise
// (network, timeouts, 5xx, throttling). Messages never carry credentials.
func (s *Storage) classify(what string, err error) error {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		// Network errors, timeouts, cancellation: try again later.
		return fmt.Errorf("s3: %s: %w", what, err)
	}
	detail := fmt.Errorf("%s (HTTP %d %s, bucket %q at %s)", er.Error(), er.StatusCode, er.Code, s.bucket, s.endpoint)
	if hint, ok := permanentCodes[er.Code]; ok {
		return voicehook.Permanent(fmt.Sprintf("s3: %s: %s", what, hint), detail)
	}
	if transientCodes[er.Code] {
		return fmt.Errorf("s3: %s: %w", what, detail)
	}
	switch sc := er.StatusCode; {
	case sc == 0, sc >= 500, sc == http.StatusRequestTimeout, sc == http.StatusConflict, sc == http.StatusTooManyRequests:
		return fmt.Errorf("s3: %s: %w", what, detail)
	case sc == http.StatusForbidden:
		return voicehook.Permanent(fmt.Sprintf("s3: %s: %s", what, permanentCodes["AccessDenied"]), detail)
	default:
		return voicehook.Permanent(fmt.Sprintf("s3: %s: the store refused the request", what), detail)
	}
}
