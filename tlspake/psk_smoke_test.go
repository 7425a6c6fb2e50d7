package tlspake

import (
	"bytes"
	"crypto"
	"errors"
	"net"
	"testing"
)

func pskPair(t *testing.T, ccfg, scfg *Config) (ConnectionState, ConnectionState, error, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	cc, sc := Client(a, ccfg), Server(b, scfg)
	errc := make(chan error, 1)
	go func() {
		err := sc.Handshake()
		if err != nil {
			b.Close()
		}
		errc <- err
	}()
	cerr := cc.Handshake()
	if cerr != nil {
		a.Close()
	}
	serr := <-errc
	return cc.ConnectionState(), sc.ConnectionState(), cerr, serr
}

func TestPSKSmoke(t *testing.T) {
	psk := PSK{Identity: []byte("pairing-1"), Secret: bytes.Repeat([]byte{7}, 32)}
	lookup := func(id []byte) (PSK, bool) {
		if bytes.Equal(id, psk.Identity) {
			return psk, true
		}
		return PSK{}, false
	}
	// PSK only.
	cs, ss, cerr, serr := pskPair(t, &Config{PSKs: []PSK{psk}}, &Config{GetPSK: lookup})
	if cerr != nil || serr != nil || cs.Auth != AuthPSK || ss.Auth != AuthPSK {
		t.Fatalf("psk only: %v %v %+v", cerr, serr, cs)
	}
	// PSK and code: the PSK wins.
	cs, _, cerr, serr = pskPair(t, &Config{PSKs: []PSK{psk}, Code: []byte("c")}, &Config{GetPSK: lookup, Code: []byte("c")})
	if cerr != nil || serr != nil || cs.Auth != AuthPSK {
		t.Fatalf("psk+code: %v %v %+v", cerr, serr, cs)
	}
	// Unknown PSK falls back to the code.
	other := PSK{Identity: []byte("gone"), Secret: []byte("x")}
	cs, _, cerr, serr = pskPair(t, &Config{PSKs: []PSK{other}, Code: []byte("c")}, &Config{GetPSK: lookup, Code: []byte("c")})
	if cerr != nil || serr != nil || cs.Auth != AuthPAKE {
		t.Fatalf("fallback: %v %v %+v", cerr, serr, cs)
	}
	// Unknown PSK without a code: rejected.
	_, _, cerr, serr = pskPair(t, &Config{PSKs: []PSK{other}}, &Config{GetPSK: lookup})
	if !errors.Is(cerr, ErrPSKRejected) || serr == nil {
		t.Fatalf("unknown: %v / %v", cerr, serr)
	}
	// Wrong secret: binder fails with decrypt_error.
	bad := PSK{Identity: psk.Identity, Secret: []byte("wrong")}
	_, _, cerr, serr = pskPair(t, &Config{PSKs: []PSK{bad}}, &Config{GetPSK: lookup})
	var ae *AlertError
	if !errors.Is(cerr, ErrPSKRejected) || !errors.As(serr, &ae) || ae.Alert != AlertDecryptError {
		t.Fatalf("wrong secret: %v / %v", cerr, serr)
	}
	// With HelloRetryRequest.
	cs, _, cerr, serr = pskPair(t, &Config{PSKs: []PSK{psk}, Groups: []CurveID{X25519, X25519MLKEM768}}, &Config{GetPSK: lookup, Groups: []CurveID{X25519MLKEM768}})
	if cerr != nil || serr != nil || !cs.DidHelloRetryRequest || cs.Auth != AuthPSK {
		t.Fatalf("hrr: %v %v %+v", cerr, serr, cs)
	}
	// SHA-384 PSK selects AES-256-GCM.
	p384 := PSK{Identity: []byte("p384"), Secret: []byte("s"), Hash: crypto.SHA384}
	cs, _, cerr, serr = pskPair(t, &Config{PSKs: []PSK{p384}}, &Config{GetPSK: func([]byte) (PSK, bool) { return p384, true }})
	if cerr != nil || serr != nil || cs.CipherSuite != TLS_AES_256_GCM_SHA384 {
		t.Fatalf("sha384: %v %v %+v", cerr, serr, cs)
	}
}

func TestPairingReconnect(t *testing.T) {
	a, b := net.Pipe()
	cc, sc := Client(a, &Config{Code: []byte("code")}), Server(b, &Config{Code: []byte("code")})
	errc := make(chan error, 1)
	go func() { errc <- sc.Handshake() }()
	if err := cc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	cp, err1 := cc.DerivePairing()
	sp, err2 := sc.DerivePairing()
	if err1 != nil || err2 != nil || !bytes.Equal(cp.ID, sp.ID) || !bytes.Equal(cp.Secret, sp.Secret) || len(cp.ID) != 16 || len(cp.Secret) != 32 {
		t.Fatalf("pairings differ: %v %v", err1, err2)
	}
	a.Close()
	b.Close()
	// Reconnect with the pairing, without the code.
	cs, ss, cerr, serr := pskPair(t, &Config{PSKs: []PSK{cp.PSK()}}, &Config{Code: []byte("code"), GetPSK: func(id []byte) (PSK, bool) {
		return sp.PSK(), bytes.Equal(id, sp.ID)
	}})
	if cerr != nil || serr != nil || cs.Auth != AuthPSK || !bytes.Equal(ss.PSKIdentity, sp.ID) {
		t.Fatalf("reconnect: %v %v %+v", cerr, serr, cs)
	}
}
