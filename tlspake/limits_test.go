package tlspake

// Size limits on what a peer can make us buffer: a handshake message
// declared larger than maxHandshakeLength, and a record header declaring
// more than a record may hold, are refused from their headers, before the
// peer has sent the rest. Each test logs one "FIGURE" line.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// limCountConn counts the bytes the wrapped side has read.
type limCountConn struct {
	net.Conn
	n atomic.Int64
}

func (c *limCountConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// limServer starts a server handshake on one end of a pipe and returns
// the raw other end, the server's read counter and its result.
func limServer(t *testing.T) (raw net.Conn, cc *limCountConn, result <-chan error) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	cc = &limCountConn{Conn: b}
	sc := Server(cc, &Config{Code: []byte("ABCDE12345"), HandshakeTimeout: 10 * time.Second})
	res := make(chan error, 1)
	go func() { res <- sc.Handshake() }()
	return a, cc, res
}

// limReadAlert reads one plaintext record from raw and returns its alert.
func limReadAlert(t *testing.T, raw net.Conn) (Alert, error) {
	t.Helper()
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(raw, hdr); err != nil {
		return 0, err
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(raw, body); err != nil {
		return 0, err
	}
	if hdr[0] != recordTypeAlert || len(body) != 2 || body[0] != 2 {
		return 0, fmt.Errorf("not a fatal alert: % x % x", hdr, body)
	}
	return Alert(body[1]), nil
}

func limWantAlertErr(t *testing.T, err error, want Alert, reason string) {
	t.Helper()
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Alert != want || ae.Received || !strings.Contains(ae.Reason, reason) {
		t.Fatalf("server error %v, want a sent %v (%q)", err, want, reason)
	}
}

// limExpectWaiting checks that the server is still waiting for more input
// (no alert within a short time), then ends the exchange.
func limExpectWaiting(t *testing.T, raw net.Conn, res <-chan error) {
	t.Helper()
	raw.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	n, err := raw.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("server answered (%d bytes, %v) where it should wait for the rest", n, err)
	}
	raw.Close()
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("handshake succeeded on a truncated message")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not notice the closed connection")
	}
}

// TestLimitsHandshakeMessageTooLarge: a ClientHello that declares more
// than 64 KiB is refused with decode_error as soon as its 4-byte header
// has arrived.
func TestLimitsHandshakeMessageTooLarge(t *testing.T) {
	if maxHandshakeLength != 64<<10 {
		t.Fatalf("maxHandshakeLength is %d, the profile's limit is 64 KiB", maxHandshakeLength)
	}
	var figs []string
	for _, tc := range []struct {
		declared int // handshake message length in its header
		sent     int // fragment bytes after the handshake header
	}{
		{maxHandshakeLength + 1, 0},
		{maxHandshakeLength + 1, 1000},
		{1 << 20, 16},
		{1<<24 - 1, 0},
	} {
		t.Run(fmt.Sprintf("declared%d_sent%d", tc.declared, tc.sent), func(t *testing.T) {
			raw, cc, res := limServer(t)
			frag := make([]byte, 4+tc.sent)
			frag[0] = typeClientHello
			frag[1], frag[2], frag[3] = byte(tc.declared>>16), byte(tc.declared>>8), byte(tc.declared)
			rec := append([]byte{recordTypeHandshake, 3, 1, 0, 0}, frag...)
			binary.BigEndian.PutUint16(rec[3:], uint16(len(frag)))
			start := time.Now()
			raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := raw.Write(rec); err != nil {
				t.Fatal(err)
			}
			a, err := limReadAlert(t, raw)
			took := time.Since(start)
			if err != nil || a != AlertDecodeError {
				t.Fatalf("got alert %v (%v), want decode_error", a, err)
			}
			limWantAlertErr(t, <-res, AlertDecodeError, "too large")
			if got := cc.n.Load(); got != int64(len(rec)) {
				t.Fatalf("server read %d bytes, the peer sent %d", got, len(rec))
			}
			figs = append(figs, fmt.Sprintf("declared %d: refused after reading %d bytes in %v", tc.declared, cc.n.Load(), took.Round(time.Microsecond)))
		})
	}

	// Exactly 64 KiB is allowed: the server waits for the rest (spread
	// over records of at most 2^14 bytes).
	t.Run("exactly64KiB", func(t *testing.T) {
		raw, _, res := limServer(t)
		rec := []byte{recordTypeHandshake, 3, 1, 0, 4, typeClientHello, 1, 0, 0}
		raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := raw.Write(rec); err != nil {
			t.Fatal(err)
		}
		limExpectWaiting(t, raw, res)
	})
	t.Logf("FIGURE limits-handshake: ClientHello declaring > 64 KiB refused with decode_error from its 4-byte header: %s; exactly 64 KiB is read on", strings.Join(figs, "; "))
}

// TestLimitsRecordTooLarge: a record header declaring more than a record
// may hold is refused with record_overflow at once, before its body: more
// than 2^14 for a plaintext record, more than 2^14+256 for a protected one.
func TestLimitsRecordTooLarge(t *testing.T) {
	var figs []string
	for _, n := range []int{maxPlaintext + 1, maxCiphertext, maxCiphertext + 1, 0xffff} {
		t.Run(fmt.Sprint("plaintext", n), func(t *testing.T) {
			raw, cc, res := limServer(t)
			hdr := []byte{recordTypeHandshake, 3, 1, byte(n >> 8), byte(n)}
			raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := raw.Write(hdr); err != nil {
				t.Fatal(err)
			}
			a, err := limReadAlert(t, raw)
			if err != nil || a != AlertRecordOverflow {
				t.Fatalf("got alert %v (%v), want record_overflow", a, err)
			}
			limWantAlertErr(t, <-res, AlertRecordOverflow, "too large")
			if got := cc.n.Load(); got != 5 {
				t.Fatalf("server read %d bytes, want only the 5-byte header", got)
			}
			figs = append(figs, fmt.Sprintf("plaintext %d refused after 5 bytes", n))
		})
	}
	t.Run("plaintext16384", func(t *testing.T) {
		raw, _, res := limServer(t)
		raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := raw.Write([]byte{recordTypeHandshake, 3, 1, 0x40, 0}); err != nil {
			t.Fatal(err)
		}
		limExpectWaiting(t, raw, res)
	})

	// Protected records, after the handshake: written raw under the
	// client's Conn, read by the server's Read.
	for _, tc := range []struct {
		n       int
		refused bool
	}{{maxCiphertext + 1, true}, {0xffff, true}, {maxCiphertext, false}} {
		t.Run(fmt.Sprint("protected", tc.n), func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			scount := &limCountConn{Conn: b}
			cfg := &Config{Code: []byte("ABCDE12345"), HandshakeTimeout: 10 * time.Second}
			cc, sc := Client(a, cfg), Server(scount, cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			hs := make(chan error, 1)
			go func() { hs <- sc.HandshakeContext(ctx) }()
			if err := cc.HandshakeContext(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-hs; err != nil {
				t.Fatal(err)
			}
			// Drain what the server sends (its alert) on the raw side.
			drained := make(chan struct{})
			go func() {
				io.Copy(io.Discard, a)
				close(drained)
			}()
			before := scount.n.Load()
			readErr := make(chan error, 1)
			go func() {
				sc.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := sc.Read(make([]byte, 1))
				readErr <- err
			}()
			// A handshake-completed client writes nothing by itself.
			if _, err := a.Write([]byte{recordTypeApplicationData, 3, 3, byte(tc.n >> 8), byte(tc.n)}); err != nil {
				t.Fatal(err)
			}
			if tc.refused {
				select {
				case err := <-readErr:
					limWantAlertErr(t, err, AlertRecordOverflow, "too large")
				case <-time.After(5 * time.Second):
					t.Fatal("server Read did not refuse the oversized record header")
				}
				if got := scount.n.Load() - before; got != 5 {
					t.Fatalf("server read %d bytes, want only the 5-byte header", got)
				}
				figs = append(figs, fmt.Sprintf("protected %d refused after 5 bytes", tc.n))
			} else {
				select {
				case err := <-readErr:
					t.Fatalf("server Read answered %v where it should wait for the record body", err)
				case <-time.After(150 * time.Millisecond):
				}
				a.Close()
				if err := <-readErr; err == nil {
					t.Fatal("Read succeeded on a truncated record")
				}
			}
			a.Close()
			b.Close()
			<-drained
		})
	}
	t.Logf("FIGURE limits-record: record headers refused with record_overflow from the 5-byte header alone: %s; 2^14 plaintext and 2^14+256 protected are read on", strings.Join(figs, "; "))
}
