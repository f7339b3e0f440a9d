package testenv

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Proxy forwards TCP connections from a loopback port to a target, until
// it is cut: Cut closes every connection and refuses new ones (a service
// that went away, while the shared service keeps running), Heal accepts
// them again. It is closed at the end of the test.
type Proxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	down    bool
	conns   []net.Conn
	refused int
}

// NewProxy starts a proxy to target (host:port).
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.Cut() })
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = c.Close()
			p.mu.Lock()
			p.refused++
			p.mu.Unlock()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
		go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
	}
}

// Refused is the number of connections refused while cut (a client's
// reconnect attempts).
func (p *Proxy) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// Cut closes the open connections and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Heal accepts connections again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// RabbitProxy returns a Proxy to the broker of RabbitURL and the broker's
// URL through the proxy, or skips.
func RabbitProxy(t testing.TB) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(RabbitURL(t))
	require.NoError(t, err)
	px := NewProxy(t, u.Host)
	u.Host = px.Addr()
	return px, u.String()
}

// ClosedAddr returns a loopback host:port that nothing listens on (it did
// a moment ago): a service that does not answer.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
