package perf

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	fcpace "filippo.io/cpace"

	"github.com/tlspake/pake/device"
	"github.com/tlspake/pake/internal/cpacecore"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/cpace"
	"github.com/tlspake/pake/tlspake/paircode"
)

// Case is one timed operation.
type Case struct {
	// Name is the case's stable key (JSON, benchmark names).
	Name string
	// Label is the row title in tables.
	Label string
	// Setup prepares the case outside any timing, checks once that it
	// does what it claims, and returns the operation to time.
	Setup func() (op func() error, err error)
}

// UnitCase is the name of the case every time is divided by: one
// variable-base X25519 scalar multiplication with the project's own
// ladder, measured on the same machine in the same run.
const UnitCase = "x25519"

// Cases are the timed operations, in table order.
var Cases = []Case{
	{UnitCase, "X25519, variable base (cpacecore.X25519, our ladder) = the unit", setupX25519Ladder},
	{"x25519-ecdh", "X25519, variable base, crypto/ecdh", setupX25519ECDH},
	{"x25519-base", "X25519 fixed base (key generation, cpacecore.X25519Base)", setupX25519Base},
	{"cpace-generator", "CPace generator: SHA-512 + Elligator 2", setupGenerator},
	{"server", "PAKE handshake, server side (device defaults: X25519)", setupSide(pakePair, true)},
	{"client", "PAKE handshake, client side (client defaults: offers X25519MLKEM768 + X25519)", setupSide(pakePair, false)},
	{"client-x25519", "PAKE handshake, client side, X25519 only", setupSide(pakePairX25519, false)},
	{"psk-server", "PSK reconnect (pairing), server side", setupSide(pskPair, true)},
	{"psk-client", "PSK reconnect (pairing), client side", setupSide(pskPair, false)},
	{"both-x25519", "PAKE handshake, both sides over net.Pipe, X25519", setupBoth(tlspakeBothX25519)},
	{"both-mlkem", "PAKE handshake, both sides over net.Pipe, X25519MLKEM768 (PreferPostQuantum)", setupBoth(tlspakeBothMLKEM)},
	{"cryptotls", "peer: crypto/tls TLS 1.3 handshake, both sides, X25519 + Ed25519 certificate", setupBoth(cryptoTLSBoth)},
	{"cpace", "CPace exchange, both parties (tlspake/cpace)", setupCPace},
	{"cpace-filippo", "peer: filippo.io/cpace exchange, both parties (ristretto255)", setupFilippo},
}

// benchCode is the device code of every tlspake case.
var benchCode = func() paircode.Code {
	c, err := paircode.Parse("K7Q2M-9XH4V")
	if err == nil {
		return c
	}
	// Not a valid code (the check symbol): make one deterministically.
	c, err = paircode.Generate(newSeededRand("tlspake bench code"))
	if err != nil {
		panic(err)
	}
	return c
}()

// deviceConfig is the server configuration of the device package with its
// defaults (X25519 preferred, ALPN http/1.1), plus opts applied to the
// device.Config.
func deviceConfig(opts func(*device.Config)) (tlspake.Config, error) {
	dc := &device.Config{Code: benchCode}
	if opts != nil {
		opts(dc)
	}
	cfg, err := dc.TLSConfig()
	if err != nil {
		return tlspake.Config{}, err
	}
	return *cfg, nil
}

// clientConfig is the configuration of the client package: default
// groups (the hybrid share and an X25519 share), ALPN http/1.1.
func clientConfig() tlspake.Config {
	return tlspake.Config{Code: benchCode.PRS(), NextProtos: []string{"http/1.1"}}
}

// pakePair is a client with the client package's defaults against a
// device with its defaults: the device selects X25519, no
// HelloRetryRequest.
func pakePair() (*pair, func(bool, tlspake.ConnectionState) error, error) {
	s, err := deviceConfig(nil)
	if err != nil {
		return nil, nil, err
	}
	return newPair(clientConfig(), s), wantState(tlspake.AuthPAKE, tlspake.X25519), nil
}

// pakePairX25519 is pakePair with a client that offers X25519 only.
func pakePairX25519() (*pair, func(bool, tlspake.ConnectionState) error, error) {
	s, err := deviceConfig(nil)
	if err != nil {
		return nil, nil, err
	}
	c := clientConfig()
	c.Groups = []tlspake.CurveID{tlspake.X25519}
	return newPair(c, s), wantState(tlspake.AuthPAKE, tlspake.X25519), nil
}

// benchPairing is the pairing of the PSK cases.
var benchPairing = tlspake.Pairing{ID: bytes.Repeat([]byte{1}, 16), Secret: bytes.Repeat([]byte{2}, 32)}

// pskPair is a paired client (no code) reconnecting to a device that
// knows its pairing.
func pskPair() (*pair, func(bool, tlspake.ConnectionState) error, error) {
	s, err := deviceConfig(nil)
	if err != nil {
		return nil, nil, err
	}
	s.GetPSK = func(id []byte) (tlspake.PSK, bool) {
		return benchPairing.PSK(), bytes.Equal(id, benchPairing.ID)
	}
	c := clientConfig()
	c.Code = nil
	c.PSKs = []tlspake.PSK{benchPairing.PSK()}
	return newPair(c, s), wantState(tlspake.AuthPSK, tlspake.X25519), nil
}

func wantState(auth tlspake.AuthMode, group tlspake.CurveID) func(bool, tlspake.ConnectionState) error {
	return func(server bool, st tlspake.ConnectionState) error {
		if st.Auth != auth || st.Group != group || st.DidHelloRetryRequest {
			return fmt.Errorf("server=%v: auth %v, group %v, HelloRetryRequest %v; want %v, %v, none",
				server, st.Auth, st.Group, st.DidHelloRetryRequest, auth, group)
		}
		return nil
	}
}

// setupSide returns the setup of a replayed side of mk's handshake.
func setupSide(mk func() (*pair, func(bool, tlspake.ConnectionState) error, error), server bool) func() (func() error, error) {
	return func() (func() error, error) {
		p, check, err := mk()
		if err != nil {
			return nil, err
		}
		c, s, err := p.sides(check)
		if err != nil {
			return nil, err
		}
		if server {
			return s.op(), nil
		}
		return c.op(), nil
	}
}

// both is a client and a server constructor for full handshakes over
// net.Pipe.
type both struct {
	client, server func(net.Conn) Handshaker
}

func tlspakeBothX25519() (both, error) {
	s, err := deviceConfig(nil)
	if err != nil {
		return both{}, err
	}
	c := clientConfig()
	c.Groups = []tlspake.CurveID{tlspake.X25519}
	return tlspakeBoth(c, s, tlspake.X25519), nil
}

func tlspakeBothMLKEM() (both, error) {
	s, err := deviceConfig(func(c *device.Config) { c.PreferPostQuantum = true })
	if err != nil {
		return both{}, err
	}
	return tlspakeBoth(clientConfig(), s, tlspake.X25519MLKEM768), nil
}

func tlspakeBoth(c, s tlspake.Config, group tlspake.CurveID) both {
	return both{
		client: func(raw net.Conn) Handshaker { return tlspake.Client(raw, &c) },
		server: func(raw net.Conn) Handshaker { return tlspake.Server(raw, &s) },
	}
}

// cryptoTLSBoth configures crypto/tls as the comparable peer: TLS 1.3,
// X25519 only, no session tickets (every handshake is a full one), a
// self-signed Ed25519 certificate that the client verifies against a pool
// holding it.
func cryptoTLSBoth() (both, error) {
	const name = "printer.local"
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return both{}, err
	}
	cert, roots, err := SelfSignedCert(key, name)
	if err != nil {
		return both{}, err
	}
	scfg := &tls.Config{
		Certificates:           []tls.Certificate{cert},
		MinVersion:             tls.VersionTLS13,
		CurvePreferences:       []tls.CurveID{tls.X25519},
		SessionTicketsDisabled: true,
	}
	ccfg := &tls.Config{
		RootCAs:          roots,
		ServerName:       name,
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
	return both{
		client: func(raw net.Conn) Handshaker { return tls.Client(raw, ccfg) },
		server: func(raw net.Conn) Handshaker { return tls.Server(raw, scfg) },
	}, nil
}

// setupBoth returns the setup of full handshakes over net.Pipe.
func setupBoth(mk func() (both, error)) func() (func() error, error) {
	return func() (func() error, error) {
		b, err := mk()
		if err != nil {
			return nil, err
		}
		op := func() error {
			cc, sc, err := PipeHandshake(b.client, b.server, nil)
			// Close the raw pipes: a TLS Close would send close_notify,
			// which blocks on a synchronous pipe that nobody reads.
			closeRaw(cc)
			closeRaw(sc)
			return err
		}
		return op, op()
	}
}

func setupX25519Ladder() (func() error, error) {
	// RFC 7748 5.2, first test vector.
	scalar := [32]byte{0xa5, 0x46, 0xe3, 0x6b, 0xf0, 0x52, 0x7c, 0x9d, 0x3b, 0x16, 0x15, 0x4b, 0x82, 0x46, 0x5e, 0xdd, 0x62, 0x14, 0x4c, 0x0a, 0xc1, 0xfc, 0x5a, 0x18, 0x50, 0x6a, 0x22, 0x44, 0xba, 0x44, 0x9a, 0xc4}
	point := [32]byte{0xe6, 0xdb, 0x68, 0x67, 0x58, 0x30, 0x30, 0xdb, 0x35, 0x94, 0xc1, 0xa4, 0x24, 0xb1, 0x5f, 0x7c, 0x72, 0x66, 0x24, 0xec, 0x26, 0xb3, 0x35, 0x3b, 0x10, 0xa9, 0x03, 0xa6, 0xd0, 0xab, 0x1c, 0x4c}
	want := [32]byte{0xc3, 0xda, 0x55, 0x37, 0x9d, 0xe9, 0xc6, 0x90, 0x8e, 0x94, 0xea, 0x4d, 0xf2, 0x8d, 0x08, 0x4f, 0x32, 0xec, 0xcf, 0x03, 0x49, 0x1c, 0x71, 0xf7, 0x54, 0xb4, 0x07, 0x55, 0x77, 0xa2, 0x85, 0x52}
	var out [32]byte
	if cpacecore.X25519(&out, &scalar, &point) != 0 || out != want {
		return nil, fmt.Errorf("cpacecore.X25519 fails the RFC 7748 vector: %x", out)
	}
	// Each multiplication takes the previous result as its point, so
	// every one has a fresh, variable base.
	return func() error {
		cpacecore.X25519(&point, &scalar, &point)
		return nil
	}, nil
}

func setupX25519ECDH() (func() error, error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	peer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	pub := peer.PublicKey()
	want, err := peer.ECDH(priv.PublicKey())
	if err != nil {
		return nil, err
	}
	got, err := priv.ECDH(pub)
	if err != nil || !bytes.Equal(got, want) {
		return nil, fmt.Errorf("crypto/ecdh X25519 disagrees with itself: %v", err)
	}
	return func() error {
		_, err := priv.ECDH(pub)
		return err
	}, nil
}

func setupX25519Base() (func() error, error) {
	var scalar, out, ladder [32]byte
	copy(scalar[:], "tlspake bench fixed-base scalar")
	cpacecore.X25519Base(&out, &scalar)
	cpacecore.X25519(&ladder, &scalar, &cpacecore.Basepoint)
	if out != ladder {
		return nil, errors.New("cpacecore.X25519Base disagrees with the ladder")
	}
	return func() error {
		cpacecore.X25519Base(&out, &scalar)
		scalar[0]++
		return nil
	}, nil
}

func setupGenerator() (func() error, error) {
	prs, ci := benchCode.PRS(), []byte("bench")
	sid := make([]byte, 32)
	return func() error {
		g := cpacecore.CalculateGenerator(prs, ci, sid)
		sid[0] = g[0]
		return nil
	}, nil
}

func setupCPace() (func() error, error) {
	ci := []byte("client printer.local")
	sid := sha512.Sum512_256([]byte("tlspake bench sid"))
	in := &cpace.Inputs{PRS: benchCode.PRS(), CI: ci, SID: sid[:]}
	op := func() error {
		a, err := cpace.NewInitiator(in, nil, nil)
		if err != nil {
			return err
		}
		b, err := cpace.NewResponder(in, nil, nil)
		if err != nil {
			return err
		}
		rb, err := b.Finish(a.Message(), nil)
		if err != nil {
			return err
		}
		ra, err := a.Finish(b.Message(), nil)
		if err != nil {
			return err
		}
		if !bytes.Equal(ra.ISK, rb.ISK) {
			return errors.New("tlspake/cpace: the parties' keys differ")
		}
		return nil
	}
	return op, op()
}

func setupFilippo() (func() error, error) {
	sid := sha512.Sum512_256([]byte("tlspake bench sid"))
	ci := fcpace.NewContextInfo("client", "printer.local", sid[:])
	pw := string(benchCode.PRS())
	op := func() error {
		msgA, s, err := fcpace.Start(pw, ci)
		if err != nil {
			return err
		}
		msgB, keyB, err := fcpace.Exchange(pw, ci, msgA)
		if err != nil {
			return err
		}
		keyA, err := s.Finish(msgB)
		if err != nil {
			return err
		}
		if !bytes.Equal(keyA, keyB) {
			return errors.New("filippo.io/cpace: the parties' keys differ")
		}
		return nil
	}
	return op, op()
}
