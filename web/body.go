package web

// Bodies are read in chunks against a memory budget shared by every request
// in flight. Authentication by signature can only finish once the whole body
// is in, so without a budget anyone could hold --max-body-bytes of memory
// per connection by sending a fresh-looking header and then stalling. The
// first chunk of every body is free, so small deliveries (nearly all of
// them) are never refused while large uploads fill the budget; a chunk the
// budget cannot cover ends that request with 503 and Retry-After, and frees
// what it held.

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// bodyChunk is the unit bodies are read and charged in.
const bodyChunk = 64 << 10

// DefaultBodyMemory is the budget when none is set: two bodies of the
// default --max-body-bytes.
const DefaultBodyMemory = 64 << 20

// bodyIdleTimeout ends a body that makes no progress for this long.
const bodyIdleTimeout = 20 * time.Second

// BodyBudget bounds the bytes held by request bodies being read.
type BodyBudget struct {
	limit int64
	used  atomic.Int64
}

// NewBodyBudget allows limit bytes in flight (DefaultBodyMemory if ≤ 0).
func NewBodyBudget(limit int64) *BodyBudget {
	if limit <= 0 {
		limit = DefaultBodyMemory
	}
	return &BodyBudget{limit: limit}
}

// InUse is the bytes currently charged.
func (b *BodyBudget) InUse() int64 { return b.used.Load() }

func (b *BodyBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *BodyBudget) give(n int64) { b.used.Add(-n) }

// errBodyBudget: the budget could not cover the next chunk.
var errBodyBudget = errors.New("request bodies in flight are over the memory budget")

// chunkPool recycles the chunks of large bodies: a refused or finished
// upload's chunks serve the next one at once instead of waiting, as
// garbage, for the collector (which let the heap reach twice the budget).
var chunkPool = sync.Pool{New: func() any { b := make([]byte, bodyChunk); return &b }}

// readBody reads r's body, at most limit bytes, writing each part to sink as
// it arrives (the signature check hashes while the body streams in). The
// caller must call release once it no longer needs body's memory counted.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, budget *BodyBudget, sink io.Writer) (body []byte, release func(), err error) {
	rc := http.NewResponseController(w)
	src := http.MaxBytesReader(w, r.Body, limit)
	var (
		first   []byte
		pooled  []*[]byte // the chunks after the first, each full but the last
		last    int       // bytes in the last pooled chunk
		charged int64
	)
	giveBack := func() {
		for _, c := range pooled {
			chunkPool.Put(c)
		}
		pooled = nil
		budget.give(charged)
		charged = 0
	}
	size := bodyChunk
	if r.ContentLength >= 0 && r.ContentLength < bodyChunk {
		size = int(r.ContentLength) + 1 // +1 sees EOF without a second chunk
	}
	first = make([]byte, size)
	n, err := readFull(rc, src, first)
	first = first[:n]
	_, _ = sink.Write(first)
	for err == nil {
		if !budget.take(bodyChunk) {
			giveBack()
			return nil, func() {}, errBodyBudget
		}
		charged += bodyChunk
		c := chunkPool.Get().(*[]byte)
		pooled = append(pooled, c)
		last, err = readFull(rc, src, *c)
		_, _ = sink.Write((*c)[:last])
	}
	if err != io.EOF {
		giveBack()
		return nil, func() {}, err
	}
	if len(pooled) == 0 {
		return first, func() {}, nil
	}
	// One copy at the end, charged like the chunks; the chunks go back to
	// the pool as soon as it is made.
	total := len(first) + (len(pooled)-1)*bodyChunk + last
	budget.used.Add(int64(total))
	body = make([]byte, 0, total)
	body = append(body, first...)
	for i, c := range pooled {
		if i == len(pooled)-1 {
			body = append(body, (*c)[:last]...)
		} else {
			body = append(body, *c...)
		}
	}
	giveBack()
	return body, func() { budget.give(int64(total)) }, nil
}

// readFull fills p unless the body ends first (io.EOF, with n bytes read)
// or fails; each read must make progress within bodyIdleTimeout.
func readFull(rc *http.ResponseController, src io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		_ = rc.SetReadDeadline(time.Now().Add(bodyIdleTimeout))
		m, err := src.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
