package perf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/tlspake/pake/tlspake"
)

// One side of a handshake is timed alone by replaying the other side's
// recorded flight to it.
//
// Every random byte either side of a tlspake handshake uses comes from its
// Config.Rand: ClientHello.random, the key shares, the ML-KEM seed and the
// CPace scalars. With both Rand readers reset to fixed seeds, a handshake
// is a pure function of the two configurations, so one recorded handshake
// (what the client wrote, what the server wrote) stays valid: a server
// whose Rand is reset to the recorded seed and that reads the recorded
// client bytes writes exactly the recorded server bytes, which makes the
// recorded client Finished verify, and the handshake completes. The same
// holds for the client against the recorded server flight. Each replay is
// checked once, untimed, to write exactly the recorded bytes (newSide);
// were anything nondeterministic, the check would fail and so would the
// replayed handshake itself (its peer's Finished would not verify).
//
// A replayed side does all the work of a real handshake: parsing, key
// generation, X25519 and CPace, key schedule, record protection and
// Finished; only the network is gone (its net.Conn reads from memory and
// discards writes), which is what a per-side CPU figure should leave out.
// The one exception is the ML-KEM ciphertext of a server that selects
// X25519MLKEM768: crypto/mlkem draws its randomness internally, so a
// hybrid server cannot be replayed, and the hybrid appears only in the
// both-sides figure.

// seededRand is a Config.Rand whose stream restarts at a fixed seed on
// reset, without allocating.
type seededRand struct {
	seed [32]byte
	c    rand.ChaCha8
}

func newSeededRand(label string) *seededRand {
	r := new(seededRand)
	copy(r.seed[:], label)
	r.reset()
	return r
}

func (r *seededRand) reset()                     { r.c.Seed(r.seed) }
func (r *seededRand) Read(p []byte) (int, error) { return r.c.Read(p) }

// replayAddr is the address a replayConn reports for both ends.
var replayAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}

// replayConn is a net.Conn that reads a recorded flight from memory and
// keeps (when out is set) or discards what is written to it.
type replayConn struct {
	in  []byte
	off int
	out *bytes.Buffer
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.off >= len(c.in) {
		return 0, io.EOF
	}
	n := copy(p, c.in[c.off:])
	c.off += n
	return n, nil
}

func (c *replayConn) Write(p []byte) (int, error) {
	if c.out != nil {
		c.out.Write(p)
	}
	return len(p), nil
}

func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return replayAddr }
func (c *replayConn) RemoteAddr() net.Addr             { return replayAddr }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// recordingConn is a net.Conn that keeps a copy of everything written to
// it.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// handshakeTimeout bounds every handshake the package runs; generous,
// since an emulated or small processor is slow.
const handshakeTimeout = 2 * time.Minute

// PipeHandshake runs one handshake of client and server over a fresh
// net.Pipe, the server in a new goroutine, and returns both connections
// once both sides have returned. A side that fails closes its end so that
// the other cannot block. wrap, if not nil, wraps each raw end (client
// first).
func PipeHandshake(client, server func(net.Conn) Handshaker, wrap func(net.Conn) net.Conn) (cc, sc Handshaker, err error) {
	a, b := net.Pipe()
	var ca, cb net.Conn = a, b
	if wrap != nil {
		ca, cb = wrap(a), wrap(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	cc, sc = client(ca), server(cb)
	errc := make(chan error, 1)
	go func() {
		err := sc.HandshakeContext(ctx)
		if err != nil {
			b.Close()
		}
		errc <- err
	}()
	cerr := cc.HandshakeContext(ctx)
	if cerr != nil {
		a.Close()
	}
	serr := <-errc
	if cerr != nil {
		err = fmt.Errorf("client: %w", cerr)
	}
	if serr != nil {
		err = errors.Join(err, fmt.Errorf("server: %w", serr))
	}
	return cc, sc, err
}

// Handshaker is a TLS connection whose handshake can be run explicitly:
// *tlspake.Conn and *tls.Conn.
// Handshaker is one side of a TLS connection: tlspake's or crypto/tls's.
type Handshaker interface {
	net.Conn
	HandshakeContext(ctx context.Context) error
}

// side is one side of a recorded tlspake handshake, ready to replay.
type side struct {
	server bool
	cfg    *tlspake.Config // Rand is rnd
	rnd    *seededRand
	peer   []byte // what the other side wrote
	want   []byte // what this side wrote
	conn   replayConn
}

// pair is a tlspake client and server configuration whose Rand readers are
// seeded, so that their handshake can be recorded and replayed.
type pair struct {
	ccfg, scfg *tlspake.Config
	cr, sr     *seededRand
}

// newPair copies the two configurations and gives each a seeded Rand.
func newPair(ccfg, scfg tlspake.Config) *pair {
	p := &pair{cr: newSeededRand("tlspake bench client"), sr: newSeededRand("tlspake bench server")}
	ccfg.Rand, scfg.Rand = p.cr, p.sr
	p.ccfg, p.scfg = &ccfg, &scfg
	return p
}

// record runs one handshake over net.Pipe and returns what each side
// wrote, and the two connections (with their state).
func (p *pair) record() (c2s, s2c []byte, cc, sc *tlspake.Conn, err error) {
	p.cr.reset()
	p.sr.reset()
	var rc, rs *recordingConn
	n := 0
	wrap := func(c net.Conn) net.Conn {
		r := &recordingConn{Conn: c}
		if n == 0 {
			rc = r
		} else {
			rs = r
		}
		n++
		return r
	}
	hc, hs, err := PipeHandshake(
		func(c net.Conn) Handshaker { return tlspake.Client(c, p.ccfg) },
		func(c net.Conn) Handshaker { return tlspake.Server(c, p.scfg) },
		wrap)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return rc.written(), rs.written(), hc.(*tlspake.Conn), hs.(*tlspake.Conn), nil
}

// sides records one handshake of p and returns its two sides, each checked
// once to replay exactly. check, if not nil, looks at each replayed
// connection's state.
func (p *pair) sides(check func(server bool, st tlspake.ConnectionState) error) (client, server *side, err error) {
	c2s, s2c, _, _, err := p.record()
	if err != nil {
		return nil, nil, fmt.Errorf("recording a handshake: %w", err)
	}
	client = &side{server: false, cfg: p.ccfg, rnd: p.cr, peer: s2c, want: c2s}
	server = &side{server: true, cfg: p.scfg, rnd: p.sr, peer: c2s, want: s2c}
	for _, s := range []*side{client, server} {
		if err := s.verify(check); err != nil {
			return nil, nil, err
		}
	}
	return client, server, nil
}

func (s *side) name() string {
	if s.server {
		return "server"
	}
	return "client"
}

// run replays the peer's flight to a new connection of this side and runs
// its handshake; what it writes goes to out (nil discards).
func (s *side) run(out *bytes.Buffer) (*tlspake.Conn, error) {
	s.rnd.reset()
	s.conn = replayConn{in: s.peer, out: out}
	return s.runOn(&s.conn)
}

// runOn runs this side's handshake on raw, which must replay the peer's
// flight; the caller has reset s.rnd.
func (s *side) runOn(raw *replayConn) (*tlspake.Conn, error) {
	var c *tlspake.Conn
	if s.server {
		c = tlspake.Server(raw, s.cfg)
	} else {
		c = tlspake.Client(raw, s.cfg)
	}
	if err := c.HandshakeContext(context.Background()); err != nil {
		return nil, fmt.Errorf("replayed %s handshake: %w", s.name(), err)
	}
	return c, nil
}

// verify replays this side once and checks that it wrote exactly what it
// wrote in the recorded handshake, and that it completed.
func (s *side) verify(check func(server bool, st tlspake.ConnectionState) error) error {
	var out bytes.Buffer
	c, err := s.run(&out)
	if err != nil {
		return err
	}
	if !bytes.Equal(out.Bytes(), s.want) {
		return fmt.Errorf("replayed %s wrote %d bytes that differ from the %d recorded ones: its handshake is not deterministic given Config.Rand", s.name(), out.Len(), len(s.want))
	}
	st := c.ConnectionState()
	if !st.HandshakeComplete {
		return fmt.Errorf("replayed %s: handshake not complete", s.name())
	}
	if check != nil {
		return check(s.server, st)
	}
	return nil
}

// op returns the timed operation: one replayed handshake of this side.
func (s *side) op() func() error {
	return func() error {
		_, err := s.run(nil)
		return err
	}
}
