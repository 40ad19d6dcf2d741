package main

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook/internal/dbtest"
)

// pgProxy forwards loopback TCP to PostgreSQL and can cut it, to play a
// database outage without stopping the shared server.
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *pgProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// TestPostgresOutage: with the database unreachable the webhook answers 503
// (never 200 for something it did not store) and /readyz fails; when the
// database comes back, service resumes without a restart.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.PostgresURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	h := setup(t, "", func(c *config) { c.DatabaseURL = u.String(); c.DBStmtTimeout = 2 * time.Second })

	h.createJob("out-1", "")
	proxy.cut()
	code, a := h.deliver("out-1", seedCompleted(h.src.url("o.mp3")))
	if code != 503 || a.Status != "error" {
		t.Fatalf("delivery during outage: %d %+v, want 503", code, a)
	}
	if code := h.do("GET", "/readyz", nil, nil, nil); code != 503 {
		t.Fatalf("/readyz during outage: %d, want 503", code)
	}
	if code := h.do("GET", "/healthz", nil, nil, nil); code != 200 {
		t.Fatalf("/healthz during outage: %d, want 200 (the process is alive)", code)
	}

	proxy.restore()
	deadline := time.Now().Add(20 * time.Second)
	for h.do("GET", "/readyz", nil, nil, nil) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover")
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, a = h.deliver("out-1", seedCompleted(h.src.url("o.mp3")))
	if code != 200 || a.Duplicate {
		t.Fatalf("delivery after outage: %d %+v (the refused one must not have been stored)", code, a)
	}
	if ev := h.waitEvent(a.EventID); ev.Status != "succeeded" {
		t.Fatalf("event after outage = %+v", ev)
	}
}
