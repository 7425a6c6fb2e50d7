package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/tlspake/pake/internal/tracehook"
	"github.com/tlspake/pake/tlspake"
)

// This file runs one handshake vector: this project's client and server
// over an in-memory connection, each with its fixed randomness and a trace
// of every intermediate value, then the application exchange.

// runTimeout bounds one run; an in-memory handshake takes milliseconds.
const runTimeout = 20 * time.Second

// pipeDir is one direction of a memPipe: an unbounded buffer, so that a
// writer never waits for the reader and the order in which the two
// parties act depends only on what each has received.
type pipeDir struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	eof    bool // the writer closed: the reader gets io.EOF once drained
	closed bool // the reader closed its end
}

func newPipeDir() *pipeDir {
	d := &pipeDir{}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// memConn is one end of an in-memory connection.
type memConn struct {
	r, w  *pipeDir
	local net.Addr
	peer  net.Addr
}

type memAddr string

func (a memAddr) Network() string { return "memory" }
func (a memAddr) String() string  { return string(a) }

// memPipe returns the two ends of an in-memory connection.
func memPipe() (client, server *memConn) {
	c2s, s2c := newPipeDir(), newPipeDir()
	return &memConn{r: s2c, w: c2s, local: memAddr("client"), peer: memAddr("server")},
		&memConn{r: c2s, w: s2c, local: memAddr("server"), peer: memAddr("client")}
}

func (c *memConn) Read(b []byte) (int, error) {
	d := c.r
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.buf) == 0 && !d.eof && !d.closed {
		d.cond.Wait()
	}
	if d.closed {
		return 0, net.ErrClosed
	}
	if len(d.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(b, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

func (c *memConn) Write(b []byte) (int, error) {
	d := c.w
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.eof {
		return 0, net.ErrClosed
	}
	d.buf = append(d.buf, b...)
	d.cond.Broadcast()
	return len(b), nil
}

// CloseWrite makes the peer read io.EOF once it has read everything
// written so far.
func (c *memConn) CloseWrite() error {
	d := c.w
	d.mu.Lock()
	d.eof = true
	d.cond.Broadcast()
	d.mu.Unlock()
	return nil
}

func (c *memConn) Close() error {
	c.CloseWrite()
	d := c.r
	d.mu.Lock()
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
	return nil
}

func (c *memConn) LocalAddr() net.Addr                { return c.local }
func (c *memConn) RemoteAddr() net.Addr               { return c.peer }
func (c *memConn) SetDeadline(t time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }

// randStream serves a party's random values, in order, to Config.Rand. It
// requires each Read to ask for exactly the next value, so that a change
// in the implementation's read order is detected rather than silently
// shifting bytes between values.
type randStream struct {
	mu    sync.Mutex
	party string
	vals  []randomValue
	next  int
	err   error
}

func (r *randStream) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	if r.next >= len(r.vals) {
		r.err = fmt.Errorf("the %s read %d random bytes after its last random value in the vector; the vector lacks an input (see the read order in vectors/README.md)", r.party, len(p))
		return 0, r.err
	}
	v := r.vals[r.next]
	if len(p) != len(v.value) {
		r.err = fmt.Errorf("the %s read %d random bytes where its next random value in the vector, %s, has %d: the implementation's read order differs from the vector's (see vectors/README.md)", r.party, len(p), v.path, len(v.value))
		return 0, r.err
	}
	copy(p, v.value)
	r.next++
	return len(p), nil
}

// unused returns the paths of the values never read.
func (r *randStream) unused() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, v := range r.vals[r.next:] {
		out = append(out, v.path)
	}
	return out
}

// traceEvent is one value a party traced.
type traceEvent struct {
	party string
	name  string
	value []byte
}

// recorder collects the trace events of both parties in one sequence.
// A party traces a record before writing it, so a record that answers
// another always comes after it in the sequence.
type recorder struct {
	mu     sync.Mutex
	events []traceEvent
}

func (r *recorder) tracer(party string) tracehook.Tracer {
	return func(name string, value []byte) {
		r.mu.Lock()
		r.events = append(r.events, traceEvent{party, name, bytes.Clone(value)})
		r.mu.Unlock()
	}
}

func (r *recorder) snapshot() []traceEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]traceEvent(nil), r.events...)
}

// partyRun is what happened at one party.
type partyRun struct {
	err      error // the handshake's error
	state    tlspake.ConnectionState
	exporter []byte
	pairing  *tlspake.Pairing
	rand     *randStream
}

// pairRun is the result of running a vector.
type pairRun struct {
	events []traceEvent
	client partyRun
	server partyRun
}

func (p *pairRun) party(name string) *partyRun {
	if name == "client" {
		return &p.client
	}
	return &p.server
}

// clientConfig returns the tlspake configuration of the vector's client.
func clientConfig(c *hsConfig, rand io.Reader) *tlspake.Config {
	groups := c.groups
	if len(c.keyShares) == 2 {
		// Only the default groups make the client send two key shares.
		groups = nil
	}
	return &tlspake.Config{
		Code:             c.code,
		ClientIdentity:   c.clientIdentity,
		ServerIdentity:   c.serverIdentity,
		PSKs:             c.psks,
		CipherSuites:     c.suites,
		Groups:           groups,
		NextProtos:       c.alpn,
		ServerName:       c.serverName,
		Rand:             rand,
		HandshakeTimeout: runTimeout,
	}
}

// serverConfig returns the tlspake configuration of the vector's server.
// It knows one identity pair: any client identity with its server
// identity (Config.GetCode is nil), and the vector's PSKs.
func serverConfig(c *hsConfig, rand io.Reader) *tlspake.Config {
	cfg := &tlspake.Config{
		Code:             c.code,
		ServerIdentity:   c.serverIdentity,
		CipherSuites:     c.suites,
		Groups:           c.groups,
		NextProtos:       c.alpn,
		Rand:             rand,
		HandshakeTimeout: runTimeout,
	}
	if len(c.psks) > 0 {
		psks := c.psks
		cfg.GetPSK = func(id []byte) (tlspake.PSK, bool) {
			for _, p := range psks {
				if bytes.Equal(p.Identity, id) {
					return p, true
				}
			}
			return tlspake.PSK{}, false
		}
	}
	return cfg
}

// runVector runs the vector's handshake and application exchange. Notes
// are problems with the inputs found by running them (an input that has
// no effect); the run's outputs are still valid.
func runVector(v *hsValidated) (*pairRun, []string, error) {
	var notes []string
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()

	rec := &recorder{}
	run := &pairRun{}
	run.client.rand = &randStream{party: "client", vals: v.client.random}
	run.server.rand = &randStream{party: "server", vals: v.server.random}
	cEnd, sEnd := memPipe()
	defer cEnd.Close()
	defer sEnd.Close()
	stop := context.AfterFunc(ctx, func() { cEnd.Close(); sEnd.Close() })
	defer stop()

	conns := map[string]*tlspake.Conn{
		"client": tlspake.Client(cEnd, clientConfig(&v.client, run.client.rand)),
		"server": tlspake.Server(sEnd, serverConfig(&v.server, run.server.rand)),
	}
	ends := map[string]*memConn{"client": cEnd, "server": sEnd}
	updaters := map[string]func(bool) error{}
	var umu sync.Mutex

	var wg sync.WaitGroup
	for _, party := range []string{"client", "server"} {
		hctx := tracehook.With(ctx, rec.tracer(party))
		hctx = withKeyUpdater(hctx, func(u func(bool) error) {
			umu.Lock()
			updaters[party] = u
			umu.Unlock()
		})
		wg.Go(func() {
			err := conns[party].HandshakeContext(hctx)
			run.party(party).err = err
			if err != nil {
				// The peer reads what was sent, then EOF, so that it never
				// waits for a party that has given up.
				ends[party].CloseWrite()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, nil, errors.New("the handshake did not finish in time")
	}
	for _, party := range []string{"client", "server"} {
		p := run.party(party)
		if p.err != nil {
			continue
		}
		c := conns[party]
		p.state = c.ConnectionState()
		if v.exporter == nil {
			if party == "client" {
				notes = append(notes, "inputs.exporter is missing: the handshake completes, so the vector gives an exporter value (for example label \"EXPORTER-tlspake test\", context \"\", length 32)")
			}
		} else {
			exp, err := c.ExportKeyingMaterial(v.exporter.Label, v.exporterCtx, v.exporter.Length)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: exporter: %v", party, err)
			}
			p.exporter = exp
		}
		if p.state.Auth == tlspake.AuthPAKE {
			pr, err := c.DerivePairing()
			if err != nil {
				return nil, nil, fmt.Errorf("%s: pairing: %v", party, err)
			}
			p.pairing = &pr
		}
	}
	if run.client.err == nil && run.server.err == nil {
		umu.Lock()
		u := map[string]func(bool) error{"client": updaters["client"], "server": updaters["server"]}
		umu.Unlock()
		if err := runSteps(v.steps, conns, u); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%v (the application exchange did not finish in time)", err)
			}
			return nil, nil, err
		}
	} else {
		// The exchange and the exporter are part of the vector only when
		// the handshake completes, so that every input has an effect.
		if len(v.steps) > 0 {
			notes = append(notes, "inputs.application: the handshake fails, so there is no application exchange; remove it")
		}
		if v.exporter != nil && run.client.err != nil && run.server.err != nil {
			notes = append(notes, "inputs.exporter: the handshake fails, so nothing is exported; remove it")
		}
	}
	run.events = rec.snapshot()
	return run, notes, nil
}

func otherParty(p string) string {
	if p == "client" {
		return "server"
	}
	return "client"
}

// runSteps runs the application exchange: each step's sender acts, then
// the receiver reads what the step delivers.
func runSteps(steps []step, conns map[string]*tlspake.Conn, updaters map[string]func(bool) error) error {
	for _, st := range steps {
		x, y := conns[st.from], conns[otherParty(st.from)]
		switch st.typ {
		case stepData:
			if _, err := x.Write(st.data); err != nil {
				return fmt.Errorf("%s: the %s's Write: %v", st.path, st.from, err)
			}
			got := make([]byte, len(st.data))
			if _, err := io.ReadFull(y, got); err != nil {
				return fmt.Errorf("%s: the %s's Read: %v", st.path, otherParty(st.from), err)
			}
			if !bytes.Equal(got, st.data) {
				return fmt.Errorf("%s: the %s read %x, want %x", st.path, otherParty(st.from), got, st.data)
			}
		case stepKeyUpdate:
			u := updaters[st.from]
			if u == nil {
				return fmt.Errorf("%s: %s", st.path, errNoKeyUpdate)
			}
			if err := u(st.requestUpdate); err != nil {
				return fmt.Errorf("%s: the %s's KeyUpdate: %v", st.path, st.from, err)
			}
		case stepCloseWrite:
			if err := x.CloseWrite(); err != nil {
				return fmt.Errorf("%s: the %s's CloseWrite: %v", st.path, st.from, err)
			}
			if n, err := y.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				return fmt.Errorf("%s: the %s's Read after close_notify returned %d bytes and %v, want io.EOF", st.path, otherParty(st.from), n, err)
			}
		}
	}
	return nil
}
