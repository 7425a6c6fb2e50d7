package tlspake

// Behavioural tests of an established connection: data in both directions,
// KeyUpdate, close_notify and truncation, deadlines, handshake timeouts,
// concurrent use, unexpected post-handshake messages and exporters.
// Helpers prefixed "bh" are in handshake_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// bhRandom returns n deterministic pseudo-random bytes.
func bhRandom(n int, seed uint64) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0], s[1] = byte(seed), byte(n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func bhWrite(c *Conn, b []byte) error {
	n, err := c.Write(b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(b))
	}
	return err
}

// bhExchange sends cData from the client and sData from the server, with
// a writer and a reader goroutine on each side, and checks that both
// arrive intact.
func bhExchange(t *testing.T, cc, sc *Conn, cData, sData []byte) {
	t.Helper()
	dl := time.Now().Add(bhTimeout)
	cc.SetDeadline(dl)
	sc.SetDeadline(dl)
	defer cc.SetDeadline(time.Time{})
	defer sc.SetDeadline(time.Time{})
	cGot, sGot := make([]byte, len(sData)), make([]byte, len(cData))
	var cw, cr, sw, sr error
	var wg sync.WaitGroup
	wg.Go(func() { cw = bhWrite(cc, cData) })
	wg.Go(func() { _, cr = io.ReadFull(cc, cGot) })
	wg.Go(func() { sw = bhWrite(sc, sData) })
	wg.Go(func() { _, sr = io.ReadFull(sc, sGot) })
	wg.Wait()
	for _, e := range []struct {
		what string
		err  error
	}{{"client write", cw}, {"client read", cr}, {"server write", sw}, {"server read", sr}} {
		if e.err != nil {
			t.Errorf("%s: %v", e.what, e.err)
		}
	}
	if !bytes.Equal(sGot, cData) {
		t.Errorf("the server received %d bytes that differ from the %d the client sent", len(sGot), len(cData))
	}
	if !bytes.Equal(cGot, sData) {
		t.Errorf("the client received %d bytes that differ from the %d the server sent", len(cGot), len(sData))
	}
}

// bhHalf is a snapshot of one direction of the record layer.
type bhHalf struct {
	secret []byte
	seq    uint64
}

func bhSnap(hc *halfConn) bhHalf {
	hc.Lock()
	defer hc.Unlock()
	return bhHalf{bytes.Clone(hc.secret), hc.seq}
}

func TestConnDataSizes(t *testing.T) {
	bhLeakCheck(t)
	sizes := []int{0, 1, 16383, 16384, 16385, 100000, 1 << 20}
	for _, transport := range []string{"pipe", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			cc, sc := bhConnectedOver(t, transport)
			// Sizes run in sequence over one connection, so the stream also
			// has to stay in step from one size to the next.
			for i, n := range sizes {
				t.Run(fmt.Sprint(n), func(t *testing.T) {
					c0, s0 := bhSnap(&cc.out), bhSnap(&sc.out)
					bhExchange(t, cc, sc, bhRandom(n, uint64(2*i)), bhRandom(n, uint64(2*i+1)))
					// Full records of 2^14 bytes: 16384 is one record, 16385 two;
					// a zero-length Write sends nothing.
					want := uint64((n + maxPlaintext - 1) / maxPlaintext)
					if got := bhSnap(&cc.out).seq - c0.seq; got != want {
						t.Errorf("client wrote %d records for %d bytes, want %d", got, n, want)
					}
					if got := bhSnap(&sc.out).seq - s0.seq; got != want {
						t.Errorf("server wrote %d records for %d bytes, want %d", got, n, want)
					}
				})
			}
		})
	}
}

// bhPingPong sends "ping" from initiator to responder, which answers
// "pong" once it has read it; pre runs in the initiator's writer before
// the ping. The initiator reads concurrently, as a synchronous pipe needs
// when the responder answers a KeyUpdate while reading.
func bhPingPong(t *testing.T, initiator, responder *Conn, pre func() error) {
	t.Helper()
	dl := time.Now().Add(bhTimeout)
	initiator.SetDeadline(dl)
	responder.SetDeadline(dl)
	defer initiator.SetDeadline(time.Time{})
	defer responder.SetDeadline(time.Time{})
	var werr, rerr, respErr error
	got := make([]byte, 4)
	var wg sync.WaitGroup
	wg.Go(func() {
		if pre != nil {
			if werr = pre(); werr != nil {
				return
			}
		}
		werr = bhWrite(initiator, []byte("ping"))
	})
	wg.Go(func() { _, rerr = io.ReadFull(initiator, got) })
	wg.Go(func() {
		buf := make([]byte, 4)
		if _, respErr = io.ReadFull(responder, buf); respErr != nil {
			return
		}
		if string(buf) != "ping" {
			respErr = fmt.Errorf("responder read %q", buf)
			return
		}
		respErr = bhWrite(responder, []byte("pong"))
	})
	wg.Wait()
	if werr != nil || rerr != nil || respErr != nil {
		t.Fatalf("ping-pong: initiator write: %v; initiator read: %v; responder: %v", werr, rerr, respErr)
	}
	if string(got) != "pong" {
		t.Fatalf("initiator read %q, want pong", got)
	}
}

func TestConnKeyUpdate(t *testing.T) {
	bhLeakCheck(t)
	for _, suite := range bhSuites {
		for _, dir := range []string{"client", "server"} {
			for _, request := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s-initiated/request=%v", CipherSuiteName(suite), dir, request), func(t *testing.T) {
					cc, sc := bhConnected(t, &Config{Code: bhCode, CipherSuites: []uint16{suite}}, &Config{Code: bhCode})
					ini, resp := cc, sc
					if dir == "server" {
						ini, resp = sc, cc
					}
					bhExchange(t, cc, sc, []byte("warm-up c"), []byte("warm-up s"))
					iOut, iIn := bhSnap(&ini.out), bhSnap(&ini.in)
					rOut, rIn := bhSnap(&resp.out), bhSnap(&resp.in)
					if !bytes.Equal(iOut.secret, rIn.secret) || !bytes.Equal(rOut.secret, iIn.secret) {
						t.Fatal("the two sides' traffic secrets do not match before the KeyUpdate")
					}

					bhPingPong(t, ini, resp, func() error { return ini.updateKeys(request) })

					iOut2, iIn2 := bhSnap(&ini.out), bhSnap(&ini.in)
					rOut2, rIn2 := bhSnap(&resp.out), bhSnap(&resp.in)
					s := ini.suite
					// The initiator's write direction moved to the next
					// secret, and the responder's read direction with it;
					// the ping is the first record under the new keys.
					if !bytes.Equal(iOut2.secret, nextTrafficSecret(s, iOut.secret)) {
						t.Errorf("initiator write secret is not application_traffic_secret_N+1")
					}
					if !bytes.Equal(rIn2.secret, iOut2.secret) {
						t.Errorf("responder read secret does not follow the initiator's write secret")
					}
					if iOut2.seq != 1 || rIn2.seq != 1 {
						t.Errorf("after the update: initiator write seq %d, responder read seq %d, want 1 and 1", iOut2.seq, rIn2.seq)
					}
					if request {
						// The responder answered with its own KeyUpdate
						// (written under its old key), then the pong under
						// the new one.
						if !bytes.Equal(rOut2.secret, nextTrafficSecret(s, rOut.secret)) {
							t.Errorf("responder did not update its write secret in answer to update_requested")
						}
						if rOut2.seq != 1 || iIn2.seq != 1 {
							t.Errorf("after the answer: responder write seq %d, initiator read seq %d, want 1 and 1", rOut2.seq, iIn2.seq)
						}
					} else {
						if !bytes.Equal(rOut2.secret, rOut.secret) {
							t.Errorf("responder updated its write secret without update_requested")
						}
						if rOut2.seq != rOut.seq+1 || iIn2.seq != iIn.seq+1 {
							t.Errorf("responder write seq %d -> %d, initiator read seq %d -> %d, want one more record each", rOut.seq, rOut2.seq, iIn.seq, iIn2.seq)
						}
					}
					if !bytes.Equal(iIn2.secret, rOut2.secret) {
						t.Errorf("initiator read secret does not follow the responder's write secret")
					}
					// Data keeps flowing both ways, across record boundaries.
					bhExchange(t, cc, sc, bhRandom(40000, 7), bhRandom(30000, 8))
				})
			}
		}
	}
}

// TestConnKeyUpdateAutomatic: a writer at its suite's record limit moves to
// a new key with a KeyUpdate (RFC 8446 5.5) without asking the peer to.
func TestConnKeyUpdateAutomatic(t *testing.T) {
	bhLeakCheck(t)
	for _, suite := range []uint16{TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256} {
		for _, dir := range []string{"client", "server"} {
			t.Run(CipherSuiteName(suite)+"/"+dir+"-writes", func(t *testing.T) {
				cc, sc := bhConnected(t, &Config{Code: bhCode, CipherSuites: []uint16{suite}}, &Config{Code: bhCode})
				w, r := cc, sc
				if dir == "server" {
					w, r = sc, cc
				}
				// Move both ends of the w->r direction next to the limit; the
				// sequence numbers must agree for the nonces to match.
				w.out.Lock()
				limit := w.out.suite.recordLimit
				w.out.seq = limit - 1
				w.out.Unlock()
				r.in.Lock()
				r.in.seq = limit - 1
				r.in.Unlock()
				old, rOut := bhSnap(&w.out), bhSnap(&r.out)

				data := bhRandom(3*maxPlaintext, 3) // three full records
				var back []byte
				if dir == "client" {
					bhExchange(t, cc, sc, data, back)
				} else {
					bhExchange(t, cc, sc, back, data)
				}
				now, rIn := bhSnap(&w.out), bhSnap(&r.in)
				// Record 1 used seq limit-1; then the KeyUpdate; records 2
				// and 3 went under the new key.
				if !bytes.Equal(now.secret, nextTrafficSecret(w.suite, old.secret)) {
					t.Fatalf("the writer did not move to the next traffic secret at the record limit")
				}
				if now.seq != 2 {
					t.Errorf("writer seq %d after the automatic update, want 2", now.seq)
				}
				if !bytes.Equal(rIn.secret, now.secret) || rIn.seq != 2 {
					t.Errorf("reader did not follow the KeyUpdate (seq %d)", rIn.seq)
				}
				if rOut2 := bhSnap(&r.out); !bytes.Equal(rOut2.secret, rOut.secret) {
					t.Errorf("the peer updated its own keys: the automatic KeyUpdate must not request it")
				}
				bhExchange(t, cc, sc, []byte("still"), []byte("working"))
			})
		}
	}
}

func TestConnCloseNotify(t *testing.T) {
	bhLeakCheck(t)
	readResult := func(c *Conn) <-chan error {
		ch := make(chan error, 1)
		go func() {
			c.SetReadDeadline(time.Now().Add(bhTimeout))
			n, err := c.Read(make([]byte, 10))
			if n != 0 {
				err = fmt.Errorf("read %d bytes, then %v", n, err)
			}
			ch <- err
		}()
		return ch
	}

	for _, closer := range []string{"client", "server"} {
		t.Run("Close/"+closer, func(t *testing.T) {
			cc, sc := bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
			a, b := cc, sc
			if closer == "server" {
				a, b = sc, cc
			}
			res := readResult(b)
			if err := a.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := <-res; err != io.EOF {
				t.Fatalf("peer Read after Close: %v, want exactly io.EOF", err)
			}
			if _, err := b.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("second Read after close_notify: %v, want io.EOF again", err)
			}
			if _, err := a.Write([]byte("x")); err == nil {
				t.Errorf("Write after Close succeeded")
			}
			if err := a.Close(); err == nil {
				t.Errorf("second Close succeeded")
			}
		})
	}

	t.Run("CloseWrite", func(t *testing.T) {
		cc, sc := bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
		sc.SetDeadline(time.Now().Add(bhTimeout))
		cc.SetDeadline(time.Now().Add(bhTimeout))
		type got struct {
			data []byte
			err  error
		}
		sres := make(chan got, 1)
		go func() {
			b, err := io.ReadAll(sc) // ends at close_notify with a nil error
			if err == nil {
				_, err = sc.Read(make([]byte, 1))
				if err != io.EOF {
					err = fmt.Errorf("Read after EOF: %v, want io.EOF", err)
				} else {
					err = nil
				}
			}
			sres <- got{b, err}
		}()
		if err := bhWrite(cc, []byte("request")); err != nil {
			t.Fatal(err)
		}
		if err := cc.CloseWrite(); err != nil {
			t.Fatalf("CloseWrite: %v", err)
		}
		if err := cc.CloseWrite(); err != nil {
			t.Errorf("second CloseWrite: %v", err)
		}
		if _, err := cc.Write([]byte("more")); err == nil {
			t.Errorf("Write after CloseWrite succeeded")
		}
		r := <-sres
		if r.err != nil || string(r.data) != "request" {
			t.Fatalf("server read %q, %v; want \"request\" then io.EOF", r.data, r.err)
		}
		// The other direction stays open.
		cres := make(chan got, 1)
		go func() {
			b, err := io.ReadAll(cc)
			cres <- got{b, err}
		}()
		if err := bhWrite(sc, []byte("response")); err != nil {
			t.Fatalf("server Write after the client's CloseWrite: %v", err)
		}
		if err := sc.Close(); err != nil {
			t.Fatalf("server Close: %v", err)
		}
		if r := <-cres; r.err != nil || string(r.data) != "response" {
			t.Fatalf("client read %q, %v after CloseWrite; want \"response\" then io.EOF", r.data, r.err)
		}
	})

	t.Run("CloseWrite-before-handshake", func(t *testing.T) {
		cc, _, _, _ := bhPipe(t, &Config{Code: bhCode}, &Config{Code: bhCode})
		if err := cc.CloseWrite(); err == nil {
			t.Errorf("CloseWrite before the handshake succeeded")
		}
	})

	// A connection cut without close_notify is not a clean end of stream.
	cut := func(t *testing.T, cc, sc *Conn, partial bool) {
		t.Helper()
		res := readResult(sc)
		if partial {
			// Half of a valid record, then the cut.
			cc.out.Lock()
			rec := cc.appendRecord(nil, recordTypeApplicationData, []byte("truncated record"))
			cc.out.Unlock()
			cc.NetConn().SetWriteDeadline(time.Now().Add(bhTimeout))
			if _, err := cc.NetConn().Write(rec[:len(rec)/2]); err != nil {
				t.Fatal(err)
			}
		}
		cc.NetConn().Close()
		err := <-res
		if err == nil || err == io.EOF {
			t.Fatalf("Read after the peer's transport was cut: %v, want an error that is not io.EOF", err)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Read after the peer's transport was cut: %v, want errors.Is(err, io.ErrUnexpectedEOF)", err)
		}
		if _, err2 := sc.Read(make([]byte, 1)); !errors.Is(err2, io.ErrUnexpectedEOF) {
			t.Errorf("second Read: %v, want the same error", err2)
		}
	}
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("cut/pipe/mid-record=%v", partial), func(t *testing.T) {
			cc, sc := bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
			cut(t, cc, sc, partial)
		})
		t.Run(fmt.Sprintf("cut/tcp/mid-record=%v", partial), func(t *testing.T) {
			cc, sc, cerr, serr := bhTCP(t, &Config{Code: bhCode}, &Config{Code: bhCode}, false)
			if cerr != nil || serr != nil {
				t.Fatalf("handshake failed: client: %v; server: %v", cerr, serr)
			}
			cut(t, cc, sc, partial)
		})
	}
}

func bhIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestConnReadDeadline(t *testing.T) {
	bhLeakCheck(t)
	t.Run("idle", func(t *testing.T) {
		cc, sc := bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
		cc.SetReadDeadline(time.Now().Add(-time.Second))
		n, err := cc.Read(make([]byte, 10))
		if n != 0 || !bhIsTimeout(err) {
			t.Fatalf("Read with a past deadline: %d, %v; want a timeout", n, err)
		}
		// The connection is still usable once the deadline is cleared.
		cc.SetReadDeadline(time.Time{})
		bhExchange(t, cc, sc, []byte("after the timeout c"), []byte("after the timeout s"))
	})
	t.Run("mid-record", func(t *testing.T) {
		cc, sc := bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
		msg := bhRandom(1000, 9)
		sc.out.Lock()
		rec := sc.appendRecord(nil, recordTypeApplicationData, msg)
		sc.out.Unlock()
		raw := sc.NetConn()
		raw.SetWriteDeadline(time.Now().Add(bhTimeout))
		wrote := make(chan error, 2)
		go func() { _, err := raw.Write(rec[:100]); wrote <- err }()

		// The Read takes the first 100 bytes, then times out waiting for
		// the rest of the record.
		cc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 2000)
		n, err := cc.Read(buf)
		if n != 0 || !bhIsTimeout(err) {
			t.Fatalf("Read of a partial record: %d, %v; want a timeout", n, err)
		}
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
		go func() { _, err := raw.Write(rec[100:]); wrote <- err }()
		cc.SetReadDeadline(time.Now().Add(bhTimeout))
		n, err = io.ReadFull(cc, buf[:len(msg)])
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("Read after the timeout: %d, %v; the record was not resumed intact", n, err)
		}
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
		bhExchange(t, cc, sc, []byte("c"), []byte("s"))
	})
}

func TestConnHandshakeTimeout(t *testing.T) {
	bhLeakCheck(t)
	check := func(t *testing.T, err error, start time.Time, want error) {
		t.Helper()
		elapsed := time.Since(start)
		if err == nil {
			t.Fatal("the handshake succeeded against a silent peer")
		}
		if !errors.Is(err, want) {
			t.Errorf("handshake error %v, want errors.Is(err, %v)", err, want)
		}
		if errors.Is(err, ErrCodeMismatch) {
			t.Errorf("a timeout reported as a code mismatch: %v", err)
		}
		if elapsed > 2*time.Second {
			t.Errorf("the handshake took %v to give up", elapsed)
		}
	}
	t.Run("server-HandshakeTimeout/pipe", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		sc := Server(b, &Config{Code: bhCode, HandshakeTimeout: 200 * time.Millisecond})
		start := time.Now()
		err := sc.Handshake()
		check(t, err, start, context.DeadlineExceeded)
		if time.Since(start) < 150*time.Millisecond {
			t.Errorf("gave up after %v, before the 200ms timeout", time.Since(start))
		}
		// The error sticks, and the transport was closed.
		if _, err2 := sc.Read(make([]byte, 1)); !errors.Is(err2, context.DeadlineExceeded) {
			t.Errorf("Read after the timeout: %v", err2)
		}
		a.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := a.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("the silent client's end reads %v, want io.EOF (transport closed)", err)
		}
	})
	t.Run("server-HandshakeTimeout/tcp", func(t *testing.T) {
		ln, err := Listen("tcp", "127.0.0.1:0", &Config{Code: bhCode, HandshakeTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		check(t, c.(*Conn).Handshake(), start, context.DeadlineExceeded)
	})
	t.Run("client-cancelled-context", func(t *testing.T) {
		a, b := net.Pipe() // nobody reads b: the ClientHello write blocks
		defer a.Close()
		defer b.Close()
		cc := Client(a, &Config{Code: bhCode})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start := time.Now()
		check(t, cc.HandshakeContext(ctx), start, context.Canceled)
	})
	t.Run("server-context-cancelled-midway", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		sc := Server(b, &Config{Code: bhCode})
		ctx, cancel := context.WithCancel(t.Context())
		timer := time.AfterFunc(100*time.Millisecond, cancel)
		defer timer.Stop()
		start := time.Now()
		check(t, sc.HandshakeContext(ctx), start, context.Canceled)
	})
	t.Run("Dialer-context-deadline", func(t *testing.T) {
		// A TCP peer that accepts and never answers.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}()
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		c, err := (&Dialer{Config: &Config{Code: bhCode}}).DialContext(ctx, "tcp", ln.Addr().String())
		if c != nil {
			c.Close()
		}
		check(t, err, start, context.DeadlineExceeded)
		if s, ok := <-accepted; ok {
			s.Close()
		}
	})
}

// TestConnConcurrentReadWrite runs one reader and one writer goroutine on
// each side, with writes and reads of irregular sizes, a KeyUpdate in the
// middle of the client's writes, and state queries alongside.
func TestConnConcurrentReadWrite(t *testing.T) {
	bhLeakCheck(t)
	for _, transport := range []string{"pipe", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			cc, sc := bhConnectedOver(t, transport)
			dl := time.Now().Add(bhTimeout)
			cc.SetDeadline(dl)
			sc.SetDeadline(dl)
			const total = 300000
			cOut0, sOut0 := bhSnap(&cc.out), bhSnap(&sc.out)
			cData, sData := bhRandom(total, 11), bhRandom(total, 12)
			writer := func(c *Conn, data []byte, seed uint64, keyUpdate bool) error {
				rng := rand.New(rand.NewPCG(seed, 1))
				for off := 0; off < len(data); {
					n := min(1+rng.IntN(40000), len(data)-off)
					if err := bhWrite(c, data[off:off+n]); err != nil {
						return err
					}
					off += n
					if keyUpdate && off > len(data)/2 {
						keyUpdate = false
						if err := c.updateKeys(true); err != nil {
							return err
						}
					}
				}
				return nil
			}
			// A reader reads its share of the data, reports it, and goes on
			// reading until the deadline set below once everything is
			// delivered: a peer's KeyUpdate answer may still be on its way
			// (on a synchronous pipe the peer blocks until it is read, just
			// as an application that keeps reading would let it through).
			reader := func(c *Conn, want []byte, seed uint64, reached chan<- struct{}) error {
				defer close(reached)
				rng := rand.New(rand.NewPCG(seed, 2))
				got := make([]byte, 0, len(want))
				buf := make([]byte, 20000)
				for len(got) < len(want) {
					n, err := c.Read(buf[:1+rng.IntN(len(buf))])
					got = append(got, buf[:n]...)
					if err != nil {
						return err
					}
				}
				if !bytes.Equal(got, want) {
					return errors.New("received data differs")
				}
				reached <- struct{}{}
				n, err := c.Read(buf)
				if n != 0 || !bhIsTimeout(err) {
					return fmt.Errorf("read %d more bytes, then %v; want nothing more and the deadline", n, err)
				}
				return nil
			}
			errs := make([]error, 4)
			stop := make(chan struct{})
			cReached, sReached := make(chan struct{}, 1), make(chan struct{}, 1)
			var wgW, wgR, wgState sync.WaitGroup
			wgW.Go(func() { errs[0] = writer(cc, cData, 1, true) })
			wgR.Go(func() { errs[1] = reader(cc, sData, 2, cReached) })
			wgW.Go(func() { errs[2] = writer(sc, sData, 3, false) })
			wgR.Go(func() { errs[3] = reader(sc, cData, 4, sReached) })
			wgState.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if !cc.ConnectionState().HandshakeComplete || !sc.ConnectionState().HandshakeComplete {
						t.Error("HandshakeComplete false during data transfer")
						return
					}
					if _, err := cc.ExportKeyingMaterial("EXPORTER-test", nil, 16); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(time.Millisecond)
				}
			})
			wgW.Wait()
			<-cReached
			<-sReached
			// Everything was written and read: end the readers.
			cc.SetReadDeadline(time.Now())
			sc.SetReadDeadline(time.Now())
			wgR.Wait()
			close(stop)
			wgState.Wait()
			for i, what := range []string{"client writer", "client reader", "server writer", "server reader"} {
				if errs[i] != nil {
					t.Errorf("%s: %v", what, errs[i])
				}
			}
			// The server's answering KeyUpdate may still be unread after
			// its last data record; one more exchange consumes it.
			bhExchange(t, cc, sc, []byte("c"), []byte("s"))
			// The client's KeyUpdate asked the server to update too: both
			// directions moved to new secrets, and the sides agree.
			cOut, sIn := bhSnap(&cc.out), bhSnap(&sc.in)
			sOut, cIn := bhSnap(&sc.out), bhSnap(&cc.in)
			if !bytes.Equal(cOut.secret, sIn.secret) || !bytes.Equal(sOut.secret, cIn.secret) {
				t.Error("the two sides' traffic secrets differ after the transfer")
			}
			if bytes.Equal(cOut.secret, cOut0.secret) || bytes.Equal(sOut.secret, sOut0.secret) {
				t.Error("a direction did not move to a new secret after the KeyUpdate")
			}
		})
	}
}

func bhHandshakeMsg(typ uint8, body []byte) []byte {
	return marshalHandshake(typ, func(b *cryptobyte.Builder) { b.AddBytes(body) })
}

// TestConnUnexpectedPostHandshake: after the handshake a server accepts
// only KeyUpdate; a client also ignores NewSessionTicket.
func TestConnUnexpectedPostHandshake(t *testing.T) {
	bhLeakCheck(t)
	cases := []struct {
		name  string
		msg   []byte
		alert Alert
	}{
		{"NewSessionTicket", bhHandshakeMsg(typeNewSessionTicket, bhRandom(40, 1)), AlertUnexpectedMessage},
		{"ClientHello", bhHandshakeMsg(typeClientHello, bhRandom(60, 2)), AlertUnexpectedMessage},
		{"EndOfEarlyData", bhHandshakeMsg(typeEndOfEarlyData, nil), AlertUnexpectedMessage},
		{"CertificateRequest", bhHandshakeMsg(typeCertificateRequest, []byte{0, 0, 0}), AlertUnexpectedMessage},
		{"Finished", marshalFinished(make([]byte, 32)), AlertUnexpectedMessage},
		{"unknown-type-99", bhHandshakeMsg(99, []byte{1, 2, 3}), AlertUnexpectedMessage},
		{"KeyUpdate-request-2", bhHandshakeMsg(typeKeyUpdate, []byte{2}), AlertIllegalParameter},
		{"KeyUpdate-too-long", bhHandshakeMsg(typeKeyUpdate, []byte{0, 0}), AlertDecodeError},
	}
	// inject writes msg as a protected handshake record from c.
	inject := func(t *testing.T, c *Conn, msg []byte) {
		t.Helper()
		c.out.Lock()
		_, err := c.writeRecord(recordTypeHandshake, msg)
		c.out.Unlock()
		if err != nil {
			t.Fatalf("injecting the message: %v", err)
		}
	}
	for _, tc := range cases {
		t.Run("to-server/"+tc.name, func(t *testing.T) {
			cc, sc := bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
			dl := time.Now().Add(bhTimeout)
			cc.SetDeadline(dl)
			sc.SetDeadline(dl)
			sres := make(chan error, 1)
			go func() {
				_, err := sc.Read(make([]byte, 10))
				sres <- err
			}()
			inject(t, cc, tc.msg)
			// The client reads the server's alert.
			_, cerr := cc.Read(make([]byte, 10))
			serr := <-sres
			bhWantAlert(t, "server", serr, tc.alert, false, false)
			bhWantAlert(t, "client", cerr, tc.alert, true, false)
			if _, err := sc.Write([]byte("x")); err == nil {
				t.Errorf("server Write after a fatal alert succeeded")
			}
		})
	}
	t.Run("to-client/NewSessionTicket-ignored", func(t *testing.T) {
		cc, sc := bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
		dl := time.Now().Add(bhTimeout)
		cc.SetDeadline(dl)
		sc.SetDeadline(dl)
		cres := make(chan error, 1)
		go func() {
			buf := make([]byte, 5)
			_, err := io.ReadFull(cc, buf)
			if err == nil && string(buf) != "after" {
				err = fmt.Errorf("read %q", buf)
			}
			cres <- err
		}()
		inject(t, sc, cases[0].msg)
		if err := bhWrite(sc, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if err := <-cres; err != nil {
			t.Fatalf("client after a NewSessionTicket: %v", err)
		}
	})
	t.Run("to-client/Finished", func(t *testing.T) {
		cc, sc := bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
		dl := time.Now().Add(bhTimeout)
		cc.SetDeadline(dl)
		sc.SetDeadline(dl)
		cres := make(chan error, 1)
		go func() {
			_, err := cc.Read(make([]byte, 10))
			cres <- err
		}()
		inject(t, sc, marshalFinished(make([]byte, 32)))
		_, serr := sc.Read(make([]byte, 10))
		bhWantAlert(t, "client", <-cres, AlertUnexpectedMessage, false, false)
		bhWantAlert(t, "server", serr, AlertUnexpectedMessage, true, false)
	})
}

func TestConnExportKeyingMaterial(t *testing.T) {
	bhLeakCheck(t)
	t.Run("before-handshake", func(t *testing.T) {
		cc, sc, _, _ := bhPipe(t, &Config{Code: bhCode}, &Config{Code: bhCode})
		if _, err := cc.ExportKeyingMaterial("EXPORTER-x", nil, 32); err == nil {
			t.Error("client exported keying material before the handshake")
		}
		if _, err := sc.ExportKeyingMaterial("EXPORTER-x", nil, 32); err == nil {
			t.Error("server exported keying material before the handshake")
		}
	})
	t.Run("after-failed-handshake", func(t *testing.T) {
		cc, sc, _, _ := bhPipe(t, &Config{Code: bhCode}, &Config{Code: bhWrongCode})
		cerr, serr := bhHandshake(t, cc, sc)
		if cerr == nil || serr == nil {
			t.Fatal("handshake with a wrong code succeeded")
		}
		if _, err := cc.ExportKeyingMaterial("EXPORTER-x", nil, 32); err == nil {
			t.Error("client exported keying material after a failed handshake")
		}
	})
	for _, suite := range bhSuites {
		t.Run(CipherSuiteName(suite), func(t *testing.T) {
			cc, sc := bhConnected(t, &Config{Code: bhCode, CipherSuites: []uint16{suite}}, &Config{Code: bhCode})
			export := func(c *Conn, label string, ctx []byte, n int) []byte {
				t.Helper()
				out, err := c.ExportKeyingMaterial(label, ctx, n)
				if err != nil {
					t.Fatalf("ExportKeyingMaterial(%q, %q, %d): %v", label, ctx, n, err)
				}
				if len(out) != n {
					t.Fatalf("ExportKeyingMaterial returned %d bytes, want %d", len(out), n)
				}
				return out
			}
			seen := map[string]string{}
			for _, in := range []struct {
				label string
				ctx   []byte
				n     int
			}{
				{"EXPORTER-tlspake pairing id", nil, 16},
				{"EXPORTER-tlspake pairing key", nil, 32},
				{"EXPORTER-tlspake pairing key", []byte("ctx"), 32},
				{"EXPORTER-tlspake pairing key", []byte("ctx2"), 32},
				{"EXPORTER-other", []byte("ctx"), 32},
			} {
				c, s := export(cc, in.label, in.ctx, in.n), export(sc, in.label, in.ctx, in.n)
				if !bytes.Equal(c, s) {
					t.Errorf("%q/%q: client and server export different material", in.label, in.ctx)
				}
				key := string(c[:16])
				if prev, ok := seen[key]; ok {
					t.Errorf("%q/%q gives the same material as %s", in.label, in.ctx, prev)
				}
				seen[key] = fmt.Sprintf("%q/%q", in.label, in.ctx)
			}
			// TLS 1.3 hashes the context, so a missing and an empty context
			// are the same (RFC 8446 7.5).
			if !bytes.Equal(export(cc, "EXPORTER-x", nil, 32), export(sc, "EXPORTER-x", []byte{}, 32)) {
				t.Error("nil and empty context differ")
			}
			// The length is part of HKDF-Expand-Label's info, so a longer
			// output is not an extension of a shorter one.
			if long := export(cc, "EXPORTER-x", nil, 64); bytes.Equal(long[:32], export(sc, "EXPORTER-x", nil, 32)) {
				t.Error("the 64-byte export starts with the 32-byte export: the length is not bound")
			}
			maxLen := 255 * cc.suite.hash.Size()
			export(sc, "EXPORTER-x", nil, maxLen)
			if _, err := cc.ExportKeyingMaterial("EXPORTER-x", nil, maxLen+1); err == nil {
				t.Errorf("export of %d bytes succeeded", maxLen+1)
			}
			if _, err := cc.ExportKeyingMaterial("EXPORTER-x", nil, -1); err == nil {
				t.Error("export of -1 bytes succeeded")
			}
			// Different connections export different material.
			cc2, _ := bhConnected(t, &Config{Code: bhCode, CipherSuites: []uint16{suite}}, &Config{Code: bhCode})
			if bytes.Equal(export(cc, "EXPORTER-x", nil, 32), export(cc2, "EXPORTER-x", nil, 32)) {
				t.Error("two connections export the same material")
			}
		})
	}
}

// bhConnectedOver returns a client and a server with the code handshake
// done, over net.Pipe ("pipe") or TCP on loopback ("tcp").
func bhConnectedOver(t *testing.T, transport string) (cc, sc *Conn) {
	t.Helper()
	if transport == "pipe" {
		return bhConnected(t, &Config{Code: bhCode}, &Config{Code: bhCode})
	}
	cc, sc, cerr, serr := bhTCP(t, &Config{Code: bhCode}, &Config{Code: bhCode}, false)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake failed: client: %v; server: %v", cerr, serr)
	}
	return cc, sc
}
