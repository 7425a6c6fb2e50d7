// Package device is the device side of tlspake: a listener whose
// connections are authenticated with the device's printed code, an HTTP
// server with sane timeouts in front of the device's web UI, and storage
// for the code.
//
// A firmware team puts [Listen] and [Serve] in front of its existing web
// interface (or runs the ready-made daemon in device/cmd/tlspake-device):
//
//	code, _, err := device.LoadOrCreateCode("/var/lib/mydevice/code")
//	l, err := device.Listen("tcp", ":8443", &device.Config{Code: code})
//	err = device.Serve(ctx, l, myHandler)
package device

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// Config configures a device.
type Config struct {
	// Code is the device's printed code. It is required.
	Code paircode.Code
	// Identity is the device's PAKE server identity; clients must send
	// the same one. Empty by default.
	Identity string
	// HandshakeTimeout bounds each handshake. Zero means 10 seconds.
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the handshakes in progress at once; further
	// connections are closed at once, cheaply. Zero means 64.
	MaxHandshakes int
	// NextProtos lists ALPN protocols. Nil means "http/1.1".
	NextProtos []string
	// PreferPostQuantum makes the device prefer the hybrid group
	// X25519MLKEM768 over X25519. Either way it accepts both. The hybrid
	// protects recorded traffic against a future quantum computer but
	// costs more: a whole handshake is about 10.1 X25519-equivalents on
	// ARMv6 and 10.9 on MIPS, against 8.4 and 8.3 with X25519 (see
	// bench/REPORT.md). The default prefers X25519.
	PreferPostQuantum bool
	// Logger receives one line per failed handshake (never the code).
	// Nil discards.
	Logger *slog.Logger
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
	// Attempts, if set, limits attempts to guess the code (see
	// AttemptLimiter). Strongly recommended for any product.
	Attempts *AttemptLimiter
	// FrontDoor, if set, answers ordinary TLS clients (no pake extension,
	// no known pairing) with a page that explains how to pair, instead of
	// an alert. Nil turns it off.
	FrontDoor *FrontDoor
	// Pairings, if set, lets clients paired earlier reconnect without the
	// code (external PSK, PROFILE.md section 5). Serve the pairing
	// endpoint with PairingHandler so that clients can pair.
	Pairings *PairingStore
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// TLSConfig returns the tlspake server configuration for c.
func (c *Config) TLSConfig() (*tlspake.Config, error) {
	if c.Code.IsZero() {
		return nil, errors.New("device: Config.Code is not set; load it with LoadOrCreateCode or paircode.Parse")
	}
	protos := c.NextProtos
	if protos == nil {
		protos = []string{"http/1.1"}
	}
	timeout := c.HandshakeTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	var getPSK func([]byte) (tlspake.PSK, bool)
	if c.Pairings != nil {
		getPSK = c.Pairings.lookup
	}
	var gate tlspake.AttemptGate
	if c.Attempts != nil {
		gate = c.Attempts
	}
	groups := []tlspake.CurveID{tlspake.X25519, tlspake.X25519MLKEM768}
	if c.PreferPostQuantum {
		groups = []tlspake.CurveID{tlspake.X25519MLKEM768, tlspake.X25519}
	}
	return &tlspake.Config{
		Groups:           groups,
		Attempts:         gate,
		GetPSK:           getPSK,
		Code:             c.Code.PRS(),
		ServerIdentity:   []byte(c.Identity),
		NextProtos:       protos,
		HandshakeTimeout: timeout,
		Rand:             c.Rand,
	}, nil
}

// Listen listens on addr and returns a listener whose Accept returns only
// connections that completed a tlspake handshake with the device's code.
func Listen(network, addr string, cfg *Config) (net.Listener, error) {
	if _, err := cfg.TLSConfig(); err != nil {
		return nil, err
	}
	inner, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return NewListener(inner, cfg)
}

// NewListener wraps inner: handshakes run concurrently, off the Accept
// path, at most Config.MaxHandshakes at a time; Accept returns the
// authenticated *tlspake.Conn values.
func NewListener(inner net.Listener, cfg *Config) (net.Listener, error) {
	tcfg, err := cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	max := cfg.MaxHandshakes
	if max <= 0 {
		max = 64
	}
	ctx, cancel := context.WithCancel(context.Background())
	var front *frontDoorServer
	if cfg.FrontDoor != nil {
		if front, err = startFrontDoor(cfg.FrontDoor, inner.Addr()); err != nil {
			cancel()
			return nil, err
		}
	}
	l := &listener{
		front:  front,
		inner:  inner,
		tcfg:   tcfg,
		log:    cfg.logger(),
		conns:  make(chan net.Conn),
		sem:    make(chan struct{}, max),
		ctx:    ctx,
		cancel: cancel,
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

type listener struct {
	front  *frontDoorServer
	inner  net.Listener
	tcfg   *tlspake.Config
	log    *slog.Logger
	conns  chan net.Conn
	sem    chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // why the accept loop stopped
}

func (l *listener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	var lastDropLog time.Time
	dropped := 0
	for {
		raw, err := l.inner.Accept()
		if err != nil {
			if temporaryAcceptError(err) && l.ctx.Err() == nil {
				// Transient (for example too many open files): back off.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-l.ctx.Done():
				}
			}
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			l.cancel()
			return
		}
		backoff = 0
		select {
		case l.sem <- struct{}{}:
		default:
			// Dropped cheaply; logged at most once a second so that a
			// flood cannot flood the log too.
			dropped++
			if now := time.Now(); now.Sub(lastDropLog) >= time.Second {
				l.log.Warn("too many handshakes in progress; dropping connections", "dropped", dropped, "latest", raw.RemoteAddr().String())
				lastDropLog, dropped = now, 0
			}
			raw.Close()
			continue
		}
		l.wg.Add(1)
		go l.handshake(raw)
	}
}

// temporaryAcceptError reports errors after which accepting may succeed
// again: timeouts and running out of descriptors, buffers or memory.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (l *listener) handshake(raw net.Conn) {
	defer l.wg.Done()
	// One deadline, counted from accept, bounds everything done before the
	// connection is handed on (the peek, either handshake).
	ctx, cancel := context.WithTimeout(l.ctx, l.tcfg.HandshakeTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	conn := raw
	if l.front != nil {
		// Look at the ClientHello first: without pake or a known pairing,
		// the connection goes to the front door, whose TLS handshake also
		// runs here, inside this slot and this deadline.
		raw.SetDeadline(deadline)
		read, msg, err := peekClientHello(raw)
		conn = &prefixConn{Conn: raw, prefix: read}
		if err == nil && !routeToTLSPake(msg, l.tcfg.GetPSK) {
			tc := tls.Server(conn, l.front.tlsConfig)
			herr := tc.HandshakeContext(ctx)
			<-l.sem
			if herr != nil {
				raw.Close()
				return
			}
			raw.SetDeadline(time.Time{})
			l.front.hand(tc, l.ctx.Done())
			return
		}
		raw.SetDeadline(time.Time{})
	}
	c := tlspake.Server(conn, l.tcfg)
	err := c.HandshakeContext(ctx)
	<-l.sem
	if err != nil {
		l.log.Info("handshake failed", "remote", raw.RemoteAddr().String(), "reason", Describe(err))
		raw.Close()
		return
	}
	select {
	case l.conns <- c:
	case <-l.ctx.Done():
		c.Close()
	}
}

// Accept returns the next authenticated connection.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil && !errors.Is(l.err, net.ErrClosed) {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting, aborts the handshakes in progress and waits for
// them to end. Connections already returned by Accept stay open.
func (l *listener) Close() error {
	l.cancel()
	err := l.inner.Close()
	l.wg.Wait()
	if l.front != nil {
		l.front.close()
	}
	return err
}

func (l *listener) Addr() net.Addr { return l.inner.Addr() }

// Describe turns a handshake error into a short reason for logs.
func Describe(err error) string {
	var ae *tlspake.AlertError
	switch {
	case errors.Is(err, tlspake.ErrCodeMismatch):
		return "the client did not know the code (wrong code or unknown identity)"
	case errors.As(err, &ae) && !ae.Received && ae.Alert == tlspake.AlertAccessDenied:
		return "refused: too many wrong codes recently, or the pairing window is closed"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return "handshake timed out or was cancelled"
	case errors.As(err, &ae) && ae.Received:
		return "the client aborted with alert " + ae.Alert.String()
	case errors.As(err, &ae):
		return "protocol error: " + ae.Reason
	}
	return err.Error()
}

type connKey struct{}

// ConnectionState returns the tlspake state of the connection that carried
// r, for handlers served by Serve.
func ConnectionState(r *http.Request) (tlspake.ConnectionState, bool) {
	c, ok := r.Context().Value(connKey{}).(*tlspake.Conn)
	if !ok {
		return tlspake.ConnectionState{}, false
	}
	return c.ConnectionState(), true
}

// Server timeouts used by Serve.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownGrace     = 10 * time.Second
)

// Serve serves HTTP on l until ctx is done, then shuts down gracefully:
// it stops accepting, lets requests in progress finish for up to ten
// seconds, and returns nil. Request headers must arrive within ten
// seconds and idle connections are closed after two minutes.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tlspake.Conn); ok {
				return context.WithValue(ctx, connKey{}, tc)
			}
			return ctx
		},
	}
	shutdownDone := make(chan error, 1)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err != nil {
			srv.Close()
		}
		shutdownDone <- err
	})
	err := srv.Serve(l)
	if !stop() {
		// Shutdown was started by ctx: wait for it to finish.
		<-shutdownDone
		return nil
	}
	srv.Close()
	return err
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
