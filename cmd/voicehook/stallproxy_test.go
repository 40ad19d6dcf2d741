package main

import (
	"net"
	"sync"
	"testing"
)

// stallProxy forwards loopback TCP to PostgreSQL and can stall it the two
// ways a network or a hung server does, without ever refusing or resetting a
// connection (which the client would notice at once; see pgProxy for that):
//
//   - blackhole: new connections are accepted and never forwarded; live ones
//     stop forwarding both ways. restore drops every connection that lived
//     through the blackhole (closing both ends, as a healed network resets a
//     connection whose client has since given up, so the server aborts its
//     transaction) and forwards new connections again.
//   - freeze: live connections forward a few more bytes each way (cutting a
//     protocol message in the middle) and then stop; connections opened
//     during the freeze forward nothing. thaw resumes every connection where
//     it stopped, held bytes first: nothing is dropped, so a commit stuck in
//     the freeze completes late.
type stallProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cond  *sync.Cond
	state proxyState
	links map[*proxyLink]bool
	held  []net.Conn // accepted during a blackhole, never forwarded
}

type proxyState int

const (
	flowing proxyState = iota
	blackholed
	frozen
)

// proxyLink is one client connection and its upstream. budget is what each
// direction (0: client→server, 1: server→client) may still forward while
// the proxy is stalled.
type proxyLink struct {
	client, server net.Conn
	budget         [2]int
	dropped        bool
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target, links: map[*proxyLink]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.dropAll()
		p.mu.Unlock()
	})
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.state == blackholed {
			p.held = append(p.held, c)
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		l := &proxyLink{client: c, server: up}
		p.mu.Lock()
		p.links[l] = true
		p.mu.Unlock()
		go p.pipe(l, 0, up, c)
		go p.pipe(l, 1, c, up)
	}
}

// pipe copies one direction of a link, asking before every write how much
// it may forward.
func (p *stallProxy) pipe(l *proxyLink, dir int, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			k, ok := p.allowance(l, dir, len(data))
			if !ok {
				return
			}
			if _, err := dst.Write(data[:k]); err != nil {
				p.closeLink(l)
				return
			}
			data = data[k:]
		}
		if rerr != nil {
			// An end of stream is traffic too: it passes only when the
			// proxy forwards.
			if _, ok := p.allowance(l, dir, 0); ok {
				p.closeLink(l)
			}
			return
		}
	}
}

// allowance blocks until up to n bytes (n == 0: the end of the stream) of
// l's direction dir may pass, and says how many; false means l was dropped.
func (p *stallProxy) allowance(l *proxyLink, dir, n int) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case l.dropped:
			return 0, false
		case p.state == flowing:
			return n, true
		case n > 0 && l.budget[dir] > 0:
			k := min(n, l.budget[dir])
			l.budget[dir] -= k
			return k, true
		}
		p.cond.Wait()
	}
}

func (p *stallProxy) closeLink(l *proxyLink) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l.dropped = true
	l.client.Close()
	l.server.Close()
	delete(p.links, l)
	p.cond.Broadcast()
}

// blackhole stops all forwarding; new connections hang at connect.
func (p *stallProxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = blackholed
	for l := range p.links {
		l.budget = [2]int{}
	}
}

// restore ends a blackhole: the connections that lived through it are
// dropped, new ones are forwarded.
func (p *stallProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropAll()
	p.state = flowing
	p.cond.Broadcast()
}

// freeze lets each live connection forward up to budget more bytes each way,
// then stops it; connections opened meanwhile forward nothing.
func (p *stallProxy) freeze(budget int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = frozen
	for l := range p.links {
		l.budget = [2]int{budget, budget}
	}
}

// thaw resumes every connection where it stopped.
func (p *stallProxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = flowing
	p.cond.Broadcast()
}

// dropAll closes every connection, forwarded or held. p.mu is held.
func (p *stallProxy) dropAll() {
	for l := range p.links {
		l.dropped = true
		l.client.Close()
		l.server.Close()
	}
	clear(p.links)
	for _, c := range p.held {
		c.Close()
	}
	p.held = nil
	p.cond.Broadcast()
}
