package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/internal/audiotest"
	"github.com/voicehook/voicehook/nca/ncatest"
)

// The core's end-to-end flows again, through the real server, with audio
// stored on each backend: local disk, S3 (gofakes3) and the NCA Toolkit
// (its emulator). Everything listens on 127.0.0.1.

const (
	testS3Bucket = "voice"
	testNCAKey   = "nca-test-key"
)

// storageBackend is one --storage choice with its stand-in service.
type storageBackend struct {
	name   string
	mutate func(*config)
	s3     *s3Fake         // --storage s3
	nca    *ncatest.Server // --storage nca
	url    func(h *harness, key string) string
}

func newStorageBackend(t *testing.T, name string) *storageBackend {
	t.Helper()
	be := &storageBackend{name: name}
	switch name {
	case "local":
		be.mutate = func(*config) {}
		be.url = func(h *harness, key string) string { return h.base + "/media/" + key }
	case "s3":
		be.s3 = newS3Fake(t)
		be.mutate = be.s3.configure
		be.url = func(_ *harness, key string) string { return be.s3.URL + "/" + testS3Bucket + "/" + key }
	case "nca":
		be.nca = ncatest.NewServer(testNCAKey)
		t.Cleanup(be.nca.Close)
		// NCA pulls staged files from --public-url, so it must name the
		// address the server will listen on; the emulator only fetches
		// from literal loopback IPs.
		addr := freeLoopbackAddr(t)
		be.mutate = func(c *config) {
			c.Storage, c.NCA.URL, c.NCA.APIKey = "nca", be.nca.URL, testNCAKey
			c.Addr, c.PublicURL = addr, "http://"+addr
		}
		be.url = func(_ *harness, key string) string { return be.nca.FileURL(key) }
	default:
		t.Fatalf("unknown storage %q", name)
	}
	return be
}

// eachBackend runs fn for each named storage on each store, in parallel.
func eachBackend(t *testing.T, names []string, fn func(t *testing.T, store string, be *storageBackend)) {
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, store string) {
				fn(t, store, newStorageBackend(t, name))
			})
		})
	}
}

var allStorages = []string{"local", "s3", "nca"}

// checkStored asserts that segID is voiceover_ready with want stored on the
// backend, at the backend's permanent link, and returns the segment.
func (be *storageBackend) checkStored(t *testing.T, h *harness, segID string, want []byte) segmentView {
	t.Helper()
	sum := sha256.Sum256(want)
	sha := hex.EncodeToString(sum[:])
	seg := h.segment(segID)
	if seg.Status != "voiceover_ready" || seg.SHA256 != sha || seg.Bytes != int64(len(want)) {
		t.Fatalf("segment = %+v, want voiceover_ready with %d bytes, sha256 %s", seg, len(want), sha)
	}
	key := fmt.Sprintf("segments/%s/%s.mp3", segID, sha)
	if wantURL := be.url(h, key); seg.Voiceover != wantURL {
		t.Fatalf("voiceover = %q, want the permanent link %q", seg.Voiceover, wantURL)
	}
	if u, err := url.Parse(seg.Voiceover); err != nil || u.RawQuery != "" {
		t.Fatalf("voiceover %q carries a query: a presigned or signed link expires", seg.Voiceover)
	}
	if got := getLoopback(t, seg.Voiceover, http.StatusOK); !bytes.Equal(got, want) {
		t.Fatalf("GET %s: %d bytes that differ from the %d bytes of source audio", seg.Voiceover, len(got), len(want))
	}
	switch be.name {
	case "nca":
		if got, ok := be.nca.File(key); !ok || !bytes.Equal(got, want) {
			t.Fatalf("NCA holds %d bytes (found %v), want the source audio", len(got), ok)
		}
		// NCA pulled the file from a signed, short-lived link to this
		// server's media, which is not public with --storage nca.
		ups := be.nca.Uploads()
		last := ups[len(ups)-1]
		if !last.Public || last.Filename != key || !strings.HasPrefix(last.FileURL, h.base+"/media/"+key+"?exp=") || !strings.Contains(last.FileURL, "&sig=") {
			t.Fatalf("NCA upload request = %+v, want public with a signed link to %s/media/%s", last, h.base, key)
		}
		getLoopback(t, h.base+"/media/"+key, http.StatusForbidden)
	case "s3":
		obj, err := be.s3.backend.HeadObject(testS3Bucket, key)
		if err != nil || obj.Size != int64(len(want)) {
			t.Fatalf("S3 object %s: %+v, %v", key, obj, err)
		}
	}
	return seg
}

func TestStorageSeedFormCompleted(t *testing.T) {
	eachBackend(t, allStorages, func(t *testing.T, store string, be *storageBackend) {
		h := setup(t, store, be.mutate)
		job := h.createJob("seg-1", "")
		code, a := h.deliver("seg-1", seedCompleted(h.src.url("a.mp3")))
		if code != 200 || a.EventID == "" {
			t.Fatalf("ack = %d %+v", code, a)
		}
		ev := h.waitEvent(a.EventID)
		if ev.Status != "succeeded" || ev.Attempts != 1 || ev.RelatedJob != job.ID {
			t.Fatalf("event = %+v", ev)
		}
		be.checkStored(t, h, "seg-1", h.src.body)
		if j := h.job(job.ID); j.Status != "completed" || j.Timestamps.Completed == nil {
			t.Fatalf("job = %+v", j)
		}
	})
}

func TestStoragePostCallAudioBase64(t *testing.T) {
	eachBackend(t, allStorages, func(t *testing.T, store string, be *storageBackend) {
		h := setup(t, store, be.mutate)
		job := h.createJob("seg-conv", "conv_123")
		audio := audiotest.MP3(time.Second)
		body := fmt.Appendf(nil, `{"type":"post_call_audio","event_timestamp":"1739537297","data":{"agent_id":"a1","conversation_id":"conv_123","full_audio":%q}}`,
			base64.StdEncoding.EncodeToString(audio))
		_, a := h.deliver("", body)
		ev := h.waitEvent(a.EventID)
		if ev.Status != "succeeded" || ev.RelatedJob != job.ID {
			t.Fatalf("event = %+v", ev)
		}
		be.checkStored(t, h, "seg-conv", audio)
		if j := h.job(job.ID); j.Status != "completed" {
			t.Fatalf("job = %+v", j)
		}
	})
}

func TestStorageStudioCallback(t *testing.T) {
	eachBackend(t, allStorages, func(t *testing.T, store string, be *storageBackend) {
		emu := elevenlabstest.Start("xi-test-key")
		t.Cleanup(emu.Close)
		snap := voicehook.StudioSnapshot{ProjectID: "proj_1", ProjectSnapshotID: "snap_1"}
		audio := audiotest.MP3(1500 * time.Millisecond)
		emu.Register(snap, audio)
		h := setup(t, store, be.mutate, func(c *config) { c.ElevenLabsAPIURL, c.ElevenLabsAPIKey = emu.URL, "xi-test-key" })
		job := h.createJob("seg-studio", "proj_1")
		body := []byte(`{"type":"project_conversion_status","event_timestamp":1739537297,"data":{"request_id":"r1","project_id":"proj_1","project_snapshot_id":"snap_1","conversion_status":"success"}}`)
		var a ack
		if code := h.do("POST", strings.TrimPrefix(job.CallbackURL, h.base), nil, body, &a); code != 200 {
			t.Fatalf("callback: %d %+v", code, a)
		}
		if ev := h.waitEvent(a.EventID); ev.Status != "succeeded" {
			t.Fatalf("event = %+v", ev)
		}
		be.checkStored(t, h, "seg-studio", audio)
	})
}

func TestStorageTransientFailureRecovers(t *testing.T) {
	eachBackend(t, []string{"s3", "nca"}, func(t *testing.T, store string, be *storageBackend) {
		var wantErr string
		switch be.name {
		case "nca":
			be.nca.FailNext(2, http.StatusServiceUnavailable) // a proxy in front of NCA
			wantErr = "503"
		case "s3":
			// The object is not visible right after the upload, twice.
			// (minio-go retries 5xx itself; a 404 it leaves to us.)
			be.s3.failHeadObject.Store(2)
			wantErr = "NoSuchKey"
		}
		h := setup(t, store, be.mutate)
		job := h.createJob("seg-t", "")
		_, a := h.deliver("seg-t", seedCompleted(h.src.url("t.mp3")))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "succeeded" || ev.Attempts != 3 {
			t.Fatalf("event = %+v, want succeeded on attempt 3", ev)
		}
		var outcomes []string
		for _, at := range ev.History {
			outcomes = append(outcomes, fmt.Sprintf("%s×%d", at.Outcome, at.Count))
		}
		// Two retries with the same error are one row of two.
		if diff := cmp.Diff([]string{"retry×2", "succeeded×1"}, outcomes); diff != "" {
			t.Fatalf("history (-want +got):\n%s", diff)
		}
		if !strings.Contains(ev.History[0].Error, wantErr) {
			t.Fatalf("first attempt error = %q, want it to mention %q", ev.History[0].Error, wantErr)
		}
		if be.name == "nca" {
			if n := be.nca.Requests(ncatest.RouteUpload); n != 3 {
				t.Fatalf("NCA upload requests = %d, want 3", n)
			}
		}
		be.checkStored(t, h, "seg-t", h.src.body)
		if j := h.job(job.ID); j.Status != "completed" {
			t.Fatalf("job = %+v", j)
		}
	})
}

func TestStoragePermanentFailure(t *testing.T) {
	eachBackend(t, []string{"s3", "nca"}, func(t *testing.T, store string, be *storageBackend) {
		var reason string
		var mutate func(*config)
		switch be.name {
		case "nca":
			mutate = func(c *config) { c.NCA.APIKey = "not-the-key" }
			reason = "API key"
		case "s3":
			mutate = func(c *config) { c.S3.Bucket = "missing-bucket" }
			reason = "bucket does not exist"
		}
		h := setup(t, store, be.mutate, mutate)
		job := h.createJob("seg-p", "")
		_, a := h.deliver("seg-p", seedCompleted(h.src.url("p.mp3")))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "failed" || ev.Attempts != 1 || !strings.Contains(ev.ErrorDetails, reason) {
			t.Fatalf("event = %+v, want failed at once with %q", ev, reason)
		}
		j := h.job(job.ID)
		if j.Status != "failed" || !strings.Contains(j.ErrorDetails, reason) || j.Timestamps.Failed == nil {
			t.Fatalf("job = %+v, want failed with %q", j, reason)
		}
		if s := h.segment("seg-p"); s.Status != "voiceover_failed" || s.Voiceover != "" {
			t.Fatalf("segment = %+v", s)
		}
		if be.name == "nca" && len(be.nca.Uploads()) != 0 {
			t.Fatalf("NCA accepted uploads with a wrong key: %+v", be.nca.Uploads())
		}
	})
}

// s3Fake is gofakes3 on a loopback server, with buckets "voice" and no
// authentication, so objects are public at <URL>/<bucket>/<key>.
type s3Fake struct {
	*httptest.Server
	backend *s3mem.Backend
	// failHeadObject answers that many HEAD object requests with 404
	// NoSuchKey, as a store whose new objects are not visible yet.
	failHeadObject atomic.Int64
}

func newS3Fake(t *testing.T) *s3Fake {
	t.Helper()
	f := &s3Fake{backend: s3mem.New()}
	if err := f.backend.CreateBucket(testS3Bucket); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(f.backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isObject := strings.Contains(strings.Trim(r.URL.Path, "/"), "/")
		if r.Method == http.MethodHead && isObject && f.failHeadObject.Load() > 0 && f.failHeadObject.Add(-1) >= 0 {
			w.WriteHeader(http.StatusNotFound) // HEAD: no body; clients read NoSuchKey from the status
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// configure points --storage s3 at the fake.
func (f *s3Fake) configure(c *config) {
	c.Storage = "s3"
	c.S3 = s3Flags{
		Endpoint:  f.URL,
		Region:    "us-east-1",
		Bucket:    testS3Bucket,
		AccessKey: "AKIATESTTESTTEST",
		SecretKey: "test-secret-key",
		PathStyle: true,
		PublicURL: f.URL + "/" + testS3Bucket,
	}
}

// objects lists the keys in a bucket of the fake.
func (f *s3Fake) objects(t *testing.T, bucket string) []string {
	t.Helper()
	list, err := f.backend.ListBucket(bucket, nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago, for a server whose --public-url must be known before it
// starts.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// loopbackClient connects to 127.0.0.1 and ::1 only, whatever a URL names.
var loopbackClient = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !(ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback)) {
				return fmt.Errorf("test refuses to connect to non-loopback %s", address)
			}
			return nil
		}}).DialContext,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// getLoopback GETs u on loopback, wants status, and returns the body.
func getLoopback(t *testing.T, u string, status int) []byte {
	t.Helper()
	resp, err := loopbackClient.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", u, err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %s, want %d", u, resp.Status, status)
	}
	return body
}
