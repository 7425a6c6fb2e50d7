package perf

import (
	"fmt"
	"net"
	"runtime"
)

// HeapCase measures the heap that idle, established connections keep.
type HeapCase struct {
	// Name is the case's stable key; Label its row title.
	Name, Label string
	// setup returns open, which establishes one connection (or pair)
	// and returns what keeps it alive and how to release it.
	setup func() (open func() (keep any, release func(), err error), err error)
}

// HeapCases are the idle-connection measurements, in table order.
var HeapCases = []HeapCase{
	{Name: "idle-server", Label: "tlspake server connection after a PAKE handshake (replayed client)", setup: idleServer},
	{Name: "idle-pair", Label: "tlspake client + server pair over net.Pipe", setup: idlePair(tlspakeBothX25519)},
	{Name: "idle-pair-cryptotls", Label: "peer: crypto/tls client + server pair over net.Pipe", setup: idlePair(cryptoTLSBoth)},
}

// idleServer opens server connections that completed a handshake against
// the recorded client flight of pakePair; the replayed net.Conn (a few
// words pointing at the shared recording) is counted with them.
func idleServer() (func() (any, func(), error), error) {
	p, check, err := pakePair()
	if err != nil {
		return nil, err
	}
	_, s, err := p.sides(check)
	if err != nil {
		return nil, err
	}
	return func() (any, func(), error) {
		s.rnd.reset()
		raw := &replayConn{in: s.peer}
		c, err := s.runOn(raw)
		if err != nil {
			return nil, nil, err
		}
		return c, func() {}, nil
	}, nil
}

// idlePair opens client and server pairs over net.Pipe; the pipes are
// counted with them.
func idlePair(mk func() (both, error)) func() (func() (any, func(), error), error) {
	return func() (func() (any, func(), error), error) {
		b, err := mk()
		if err != nil {
			return nil, err
		}
		return func() (any, func(), error) {
			cc, sc, err := PipeHandshake(b.client, b.server, nil)
			if err != nil {
				return nil, nil, err
			}
			// Close the raw pipes: a TLS Close would send close_notify,
			// which blocks on a synchronous pipe nobody reads.
			return [2]net.Conn{cc, sc}, func() { closeRaw(cc); closeRaw(sc) }, nil
		}, nil
	}
}

// closeRaw closes c's underlying connection when it exposes one.
func closeRaw(c net.Conn) {
	if n, ok := c.(interface{ NetConn() net.Conn }); ok {
		n.NetConn().Close()
		return
	}
	c.Close()
}

// HeapResult is the heap kept per idle connection.
type HeapResult struct {
	Name, Label string
	// BytesPerConn is the live heap per connection (or pair).
	BytesPerConn float64
	// Conns is how many were open at once.
	Conns int
}

// MeasureHeap opens n connections of hc, keeps them, and returns the
// growth of the live heap (after a GC) divided by n.
func MeasureHeap(hc HeapCase, n int) (HeapResult, error) {
	open, err := hc.setup()
	if err != nil {
		return HeapResult{}, fmt.Errorf("%s: %w", hc.Name, err)
	}
	// One untimed warm-up: lazily initialised package state is not
	// per-connection heap.
	_, rel, err := open()
	if err != nil {
		return HeapResult{}, fmt.Errorf("%s: %w", hc.Name, err)
	}
	rel()
	keep := make([]any, 0, n)
	rels := make([]func(), 0, n)
	defer func() {
		for _, r := range rels {
			r()
		}
	}()
	before := liveHeap()
	for range n {
		k, r, err := open()
		if err != nil {
			return HeapResult{}, fmt.Errorf("%s: %w", hc.Name, err)
		}
		keep = append(keep, k)
		rels = append(rels, r)
	}
	after := liveHeap()
	runtime.KeepAlive(keep)
	return HeapResult{Name: hc.Name, Label: hc.Label, BytesPerConn: float64(after-before) / float64(n), Conns: n}, nil
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
