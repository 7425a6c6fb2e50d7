package tlspake

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestOversizedInputsAreErrors: public inputs that the wire cannot carry
// are errors, never panics.
func TestOversizedInputsAreErrors(t *testing.T) {
	for name, cfg := range map[string]*Config{
		"ALPN entry of 300 bytes":  {Code: []byte("c"), NextProtos: []string{strings.Repeat("a", 300)}},
		"empty ALPN entry":         {Code: []byte("c"), NextProtos: []string{""}},
		"client identity 70000":    {Code: []byte("c"), ClientIdentity: make([]byte, 70000)},
		"identities 40000 + 40000": {Code: []byte("c"), ClientIdentity: make([]byte, 40000), ServerIdentity: make([]byte, 40000)},
		"server name of 300 bytes": {Code: []byte("c"), ServerName: strings.Repeat("h", 300)},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			err := Client(a, cfg).Handshake()
			if err == nil || !strings.Contains(err.Error(), "tlspake: Config.") {
				t.Fatalf("err = %v, want a Config error", err)
			}
		})
	}
	cc, _ := pairForExport(t)
	if _, err := cc.ExportKeyingMaterial(strings.Repeat("l", 250), nil, 32); err == nil {
		t.Error("a 250-byte exporter label was accepted")
	}
	if _, err := cc.ExportKeyingMaterial(strings.Repeat("l", 249), nil, 32); err != nil {
		t.Errorf("a 249-byte exporter label: %v", err)
	}
}

func pairForExport(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	cc, sc := Client(a, &Config{Code: []byte("c")}), Server(b, &Config{Code: []byte("c")})
	errc := make(chan error, 1)
	go func() { errc <- sc.Handshake() }()
	if err := cc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return cc, sc
}

// TestLocalFailureSendsInternalError: a server that cannot run the
// handshake (no credentials configured) tells the client at once.
func TestLocalFailureSendsInternalError(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go Server(b, &Config{}).Handshake()
	start := time.Now()
	err := Client(a, &Config{Code: []byte("c"), HandshakeTimeout: 10 * time.Second}).Handshake()
	var ae *AlertError
	if !errors.As(err, &ae) || !ae.Received || ae.Alert != AlertInternalError {
		t.Fatalf("client: %v, want a received internal_error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the client waited %v", d)
	}
}

// TestNoWritesAfterPeerFatalAlert: after the peer's fatal alert, Write
// fails instead of sending more (RFC 8446 6.2).
func TestNoWritesAfterPeerFatalAlert(t *testing.T) {
	cc, sc := pairForExport(t)
	go func() {
		sc.out.Lock()
		sc.sendAlertLocked(AlertInternalError)
		sc.out.Unlock()
	}()
	_, err := cc.Read(make([]byte, 1))
	var ae *AlertError
	if !errors.As(err, &ae) || !ae.Received {
		t.Fatalf("Read: %v", err)
	}
	if _, err := cc.Write([]byte("more")); !errors.As(err, &ae) || ae.Alert != AlertInternalError {
		t.Fatalf("Write after the peer's fatal alert: %v", err)
	}
}

// earlyDataConn sends rejected 0-RTT records right after the first
// ClientHello, as a client attempting early data would.
type earlyDataConn struct {
	net.Conn
	sent bool
}

func (c *earlyDataConn) Write(b []byte) (int, error) {
	if c.sent {
		return c.Conn.Write(b)
	}
	c.sent = true
	junk := bytes.Repeat([]byte{0xee}, 300)
	rec := append([]byte{recordTypeApplicationData, 3, 3, byte(len(junk) >> 8), byte(len(junk))}, junk...)
	n, err := c.Conn.Write(append(append(append([]byte{}, b...), rec...), rec...))
	return min(n, len(b)), err
}

// clientHandshakeWith runs the client handshake's steps with edit applied
// to the ClientHello before it is sent (as a client that offers early
// data would build it).
func clientHandshakeWith(c *Conn, edit func(*clientHelloMsg)) error {
	c.in.Lock()
	defer c.in.Unlock()
	hs := &clientHandshakeState{c: c}
	defer hs.wipe()
	steps := []func() error{
		hs.makeClientHello,
		func() error { edit(hs.hello); return nil },
		hs.sendClientHello,
		hs.readServerHello,
		hs.processServerHello,
		hs.establishHandshakeKeys,
		hs.readEncryptedExtensions,
		hs.readServerFinished,
		hs.sendClientFinished,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return c.fatal(hs.classify(err))
		}
	}
	return nil
}

func withEarlyData(h *clientHelloMsg) { h.earlyData = true }

// TestRejectedEarlyDataIsSkipped: a PSK client that sends early data gets
// a full handshake; the server, which never accepts early data, skips the
// 0-RTT records it cannot read (RFC 8446 4.2.10), with and without a
// HelloRetryRequest. Without the skipping, the server fails with
// bad_record_mac (or unexpected_message before the second ClientHello).
func TestRejectedEarlyDataIsSkipped(t *testing.T) {
	psk := PSK{Identity: []byte("id"), Secret: []byte("secret")}
	for name, groups := range map[string][2][]CurveID{
		"no HRR": {{X25519}, {X25519}},
		"HRR":    {{X25519MLKEM768, X25519}, {X25519}},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			deadline := time.Now().Add(10 * time.Second)
			a.SetDeadline(deadline)
			b.SetDeadline(deadline)
			cc := Client(&earlyDataConn{Conn: a}, &Config{PSKs: []PSK{psk}, Groups: groups[0]})
			sc := Server(b, &Config{Groups: groups[1], GetPSK: func([]byte) (PSK, bool) { return psk, true }})
			errc := make(chan error, 1)
			go func() { errc <- sc.Handshake() }()
			if err := clientHandshakeWith(cc, withEarlyData); err != nil {
				t.Fatalf("client: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("server: %v", err)
			}
		})
	}
	t.Run("without a PSK", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		a.SetDeadline(time.Now().Add(10 * time.Second))
		go clientHandshakeWith(Client(a, &Config{Code: []byte("c")}), withEarlyData)
		err := Server(b, &Config{Code: []byte("c")}).Handshake()
		var ae *AlertError
		if !errors.As(err, &ae) || ae.Alert != AlertIllegalParameter {
			t.Fatalf("early_data without PSK: %v", err)
		}
	})
}
