package tlspake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlspake/pake/internal/tracehook"
)

// Conn is a TLS 1.3 connection authenticated with the pake extension. It
// implements net.Conn. The handshake runs on the first Read or Write, or
// explicitly with Handshake or HandshakeContext. One goroutine may Read
// while another Writes.
type Conn struct {
	conn     net.Conn
	isClient bool
	config   *Config

	handshakeMu   sync.Mutex
	handshakeErr  error
	handshakeDone atomic.Bool
	state         ConnectionState
	suite         *cipherSuite
	expMaster     []byte

	in      halfConn
	raw     rawBuffer
	input   []byte // decrypted application data not yet read
	hand    []byte // handshake bytes not yet parsed
	readEOF bool   // close_notify received

	out             halfConn
	outBuf          []byte
	buffering       bool   // assembling a handshake flight
	flight          []byte // the flight being assembled
	sentFirstRecord bool
	closeNotifySent bool

	// Handshake-phase state, guarded by handshakeMu and c.in.
	sawRecord    bool // a record arrived from the peer
	notTLS       bool // the peer's first bytes were not a TLS record
	allowCCS     bool // compatibility change_cipher_spec is tolerated
	pakeInFlight bool // a pake ServerHello was sent/received, peer Finished not yet verified

	closed atomic.Bool
	// keyUpdateOwed is set when the peer asked for a KeyUpdate that has
	// not been sent yet; it is sent before the next application data
	// (RFC 8446 4.6.3), so that a reader never waits for the writer.
	keyUpdateOwed atomic.Bool

	trace tracehook.Tracer // set only by the project's vector tool

	// earlySkip is how many bytes of rejected 0-RTT data the server may
	// still skip (RFC 8446 4.2.10): this package never accepts early data.
	earlySkip int
	// peerFatal holds the fatal alert the peer sent; no more is written
	// after it (RFC 8446 6.2).
	peerFatal atomic.Pointer[AlertError]
}

// maxEarlySkip bounds the rejected early data a server skips.
const maxEarlySkip = 4 * (maxCiphertext + recordHeaderLen)

// tr traces a named value when a tracer is installed.
func (c *Conn) tr(name string, v []byte) {
	if c.trace != nil {
		c.trace(name, append([]byte(nil), v...))
	}
}

// Client returns a new client-side connection over conn. The handshake
// runs on the first Read or Write.
func Client(conn net.Conn, config *Config) *Conn {
	return &Conn{conn: conn, config: config, isClient: true}
}

// Server returns a new server-side connection over conn. The handshake
// runs on the first Read or Write.
func Server(conn net.Conn, config *Config) *Conn {
	return &Conn{conn: conn, config: config}
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the underlying
// connection. A Read that times out can be retried; a Write that times out
// leaves the connection unusable for writing.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.conn }

// Handshake runs the handshake if it has not run yet, bounded by
// Config.HandshakeTimeout. See HandshakeContext.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the handshake if it has not run yet. If ctx is done
// or Config.HandshakeTimeout passes first, the handshake is aborted and the
// underlying connection closed. A failed handshake's error is returned by
// every later call. A wrong code is reported as an error matching
// ErrCodeMismatch.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	if c.handshakeDone.Load() {
		return nil
	}
	if c.handshakeErr != nil {
		return c.handshakeErr
	}
	if c.config == nil {
		c.handshakeErr = errors.New("tlspake: nil Config")
		return c.handshakeErr
	}
	if t := c.config.handshakeTimeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.Close()
		close(interrupted)
	})

	if r := tracehook.KeyUpdaterReceiver(ctx); r != nil {
		r(c.updateKeys)
	}
	err := c.runHandshake(ctx)

	if !stop() {
		<-interrupted
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%w)", errHandshakeTimeout, context.DeadlineExceeded)
		} else {
			err = fmt.Errorf("tlspake: handshake interrupted: %w", context.Cause(ctx))
		}
	}
	if err != nil {
		c.handshakeErr = err
		return err
	}
	c.handshakeDone.Store(true)
	return nil
}

// runHandshake runs the client or server handshake with c.in held; the
// lock is released even if the handshake panics.
func (c *Conn) runHandshake(ctx context.Context) error {
	c.in.Lock()
	defer c.in.Unlock()
	if t := tracehook.From(ctx); t != nil {
		c.trace = t
		c.in.trace, c.in.dir = t, "read"
		c.out.Lock()
		c.out.trace, c.out.dir = t, "write"
		c.out.Unlock()
	}
	if c.isClient {
		return c.clientHandshake()
	}
	return c.serverHandshake()
}

// fatal records err for both directions and sends the alert it carries.
// It returns err (or the alert error wrapped in a code mismatch).
func (c *Conn) fatal(err error) error {
	var ae *AlertError
	alert, send := AlertInternalError, false
	switch {
	case errors.As(err, &ae):
		alert, send = ae.Alert, !ae.Received
	case !transportError(err) && (c.sawRecord || c.sentFirstRecord):
		// A local failure (configuration, randomness) once the handshake
		// has begun: tell the peer rather than leave it waiting (RFC 8446
		// 6.2). Before anything was exchanged there is no one to tell.
		send = true
	}
	if send {
		c.out.Lock()
		if c.out.err == nil {
			c.sendAlertLocked(alert)
			c.out.err = err
		}
		c.out.Unlock()
	}
	if c.in.err == nil {
		c.in.err = err
	}
	return err
}

// transportError reports errors of the underlying connection, after which
// no alert can (or need) be sent.
func transportError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// readHandshake returns the next handshake message, with its header.
// Called with c.in locked.
func (c *Conn) readHandshake() ([]byte, error) {
	for {
		if len(c.hand) >= 4 {
			n := int(c.hand[1])<<16 | int(c.hand[2])<<8 | int(c.hand[3])
			if n > maxHandshakeLength {
				return nil, c.fatal(alertf(AlertDecodeError, "handshake message of %d bytes is too large", n))
			}
			if len(c.hand) >= 4+n {
				msg := append([]byte(nil), c.hand[:4+n]...)
				c.hand = c.hand[4+n:]
				return msg, nil
			}
		}
		if c.in.err != nil {
			return nil, c.in.err
		}
		typ, data, err := c.readRecord()
		if err != nil {
			return nil, err
		}
		switch typ {
		case recordTypeHandshake:
			c.hand = append(c.hand, data...)
		case recordTypeAlert:
			return nil, c.handleAlert(data)
		default:
			return nil, c.fatal(alertf(AlertUnexpectedMessage, "application data during the handshake"))
		}
	}
}

// handleAlert processes an alert record. It returns io.EOF for
// close_notify after the handshake, nil for user_canceled after the
// handshake, and otherwise an *AlertError (during the handshake,
// user_canceled aborts it like any other alert).
func (c *Conn) handleAlert(data []byte) error {
	if len(data) != 2 {
		return c.fatal(alertf(AlertDecodeError, "malformed alert record"))
	}
	a := Alert(data[1])
	switch {
	case a == AlertCloseNotify && c.handshakeDone.Load():
		c.readEOF = true
		c.in.err = io.EOF
		return io.EOF
	case a == AlertUserCanceled && c.handshakeDone.Load():
		return nil
	}
	err := &AlertError{Alert: a, Received: true}
	if c.in.err == nil {
		c.in.err = err
	}
	c.peerFatal.CompareAndSwap(nil, err)
	return err
}

// setReadKey switches the read direction to a new traffic secret. A
// handshake message may not span the change (RFC 8446 5.1).
func (c *Conn) setReadKey(secret []byte) error {
	if len(c.hand) > 0 {
		return c.fatal(alertf(AlertUnexpectedMessage, "handshake message spans a key change"))
	}
	return c.in.setTrafficSecret(c.suite, secret)
}

// writeHandshake writes a handshake message. Called with c.in locked
// during the handshake; it takes c.out.
func (c *Conn) writeHandshake(msg []byte) error {
	c.out.Lock()
	defer c.out.Unlock()
	_, err := c.writeRecord(recordTypeHandshake, msg)
	return err
}

// writeCCS writes a compatibility change_cipher_spec record.
func (c *Conn) writeCCS() error {
	c.out.Lock()
	defer c.out.Unlock()
	_, err := c.writeRecord(recordTypeChangeCipherSpec, []byte{1})
	return err
}

func (c *Conn) setWriteKey(secret []byte) error {
	c.out.Lock()
	defer c.out.Unlock()
	return c.out.setTrafficSecret(c.suite, secret)
}

func (c *Conn) startFlight() {
	c.out.Lock()
	c.buffering = true
	c.out.Unlock()
}

func (c *Conn) endFlight() error {
	c.out.Lock()
	defer c.out.Unlock()
	return c.flushFlight()
}

// maxEmptyRecords bounds consecutive records that carry no application
// data, so a peer cannot keep a reader spinning.
const maxEmptyRecords = 64

// Read reads application data, running the handshake first if needed. It
// returns io.EOF only after the peer's close_notify; a connection cut
// without one is an error wrapping io.ErrUnexpectedEOF.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.in.Lock()
	defer c.in.Unlock()
	empty := 0
	for len(c.input) == 0 {
		if c.in.err != nil {
			return 0, c.in.err
		}
		if err := c.readApplicationRecord(); err != nil {
			return 0, err
		}
		if empty++; empty > maxEmptyRecords && len(c.input) == 0 {
			return 0, c.fatal(alertf(AlertUnexpectedMessage, "too many records without application data"))
		}
	}
	n := copy(b, c.input)
	c.input = c.input[n:]
	return n, nil
}

// readApplicationRecord reads one record after the handshake and handles
// post-handshake messages and alerts.
func (c *Conn) readApplicationRecord() error {
	typ, data, err := c.readRecord()
	if err != nil {
		return err
	}
	switch typ {
	case recordTypeApplicationData:
		c.input = data
		return nil
	case recordTypeAlert:
		return c.handleAlert(data)
	}
	c.hand = append(c.hand, data...)
	for len(c.hand) >= 4 {
		n := int(c.hand[1])<<16 | int(c.hand[2])<<8 | int(c.hand[3])
		if n > maxHandshakeLength {
			return c.fatal(alertf(AlertDecodeError, "post-handshake message of %d bytes is too large", n))
		}
		if len(c.hand) < 4+n {
			return nil
		}
		msg := c.hand[:4+n]
		c.hand = c.hand[4+n:]
		if err := c.handlePostHandshake(msg); err != nil {
			return err
		}
	}
	return nil
}

func (c *Conn) handlePostHandshake(msg []byte) error {
	switch msg[0] {
	case typeKeyUpdate:
		if len(msg) != 5 {
			return c.fatal(alertf(AlertDecodeError, "malformed KeyUpdate"))
		}
		if msg[4] > 1 {
			return c.fatal(alertf(AlertIllegalParameter, "KeyUpdate with request_update %d", msg[4]))
		}
		if err := c.setReadKey(nextTrafficSecret(c.suite, c.in.secret)); err != nil {
			return err
		}
		if msg[4] == 1 {
			c.keyUpdateOwed.Store(true)
			// Answer now if the write side is free; otherwise the next
			// Write answers before its data.
			if c.out.TryLock() {
				err := c.payKeyUpdateLocked()
				c.out.Unlock()
				return err
			}
		}
		return nil
	case typeNewSessionTicket:
		if c.isClient {
			return nil // tickets are not used: pairing replaces resumption
		}
	}
	return c.fatal(alertf(AlertUnexpectedMessage, "unexpected post-handshake message of type %d", msg[0]))
}

// sendKeyUpdateLocked sends a KeyUpdate and moves the write direction to
// the next traffic secret. c.out is locked.
func (c *Conn) sendKeyUpdateLocked(requestUpdate bool) error {
	if _, err := c.writeRecord(recordTypeHandshake, marshalKeyUpdate(requestUpdate)); err != nil {
		return err
	}
	if err := c.out.setTrafficSecret(c.suite, nextTrafficSecret(c.suite, c.out.secret)); err != nil {
		c.out.err = err
		return err
	}
	return nil
}

// payKeyUpdateLocked sends the KeyUpdate the peer asked for, if one is
// owed. c.out is locked.
func (c *Conn) payKeyUpdateLocked() error {
	if !c.keyUpdateOwed.Swap(false) || c.out.err != nil || c.closeNotifySent {
		return nil
	}
	return c.sendKeyUpdateLocked(false)
}

// updateKeys sends a KeyUpdate, asking the peer to update its keys too
// when requestPeer is set.
func (c *Conn) updateKeys(requestPeer bool) error {
	if err := c.Handshake(); err != nil {
		return err
	}
	c.out.Lock()
	defer c.out.Unlock()
	c.keyUpdateOwed.Store(false) // this KeyUpdate also answers any request
	return c.sendKeyUpdateLocked(requestPeer)
}

var errWriteAfterClose = errors.New("tlspake: write after CloseWrite or Close")

// Write writes application data, running the handshake first if needed.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.out.Lock()
	defer c.out.Unlock()
	if c.closeNotifySent {
		return 0, errWriteAfterClose
	}
	if pf := c.peerFatal.Load(); pf != nil {
		return 0, pf // the peer ended the connection with a fatal alert
	}
	if len(b) == 0 {
		return 0, c.out.err
	}
	if err := c.payKeyUpdateLocked(); err != nil {
		return 0, err
	}
	return c.writeRecord(recordTypeApplicationData, b)
}

// CloseWrite sends close_notify: the peer reads io.EOF, and this side may
// still read. It does not half-close the underlying connection. The
// handshake must have completed.
func (c *Conn) CloseWrite() error {
	if !c.handshakeDone.Load() {
		return errors.New("tlspake: CloseWrite before the handshake completed")
	}
	return c.closeNotify()
}

func (c *Conn) closeNotify() error {
	c.out.Lock()
	defer c.out.Unlock()
	if c.closeNotifySent {
		return nil
	}
	err := c.sendAlertLocked(AlertCloseNotify)
	c.closeNotifySent = true
	return err
}

// Close sends close_notify if the handshake completed (waiting at most
// five seconds) and closes the underlying connection.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	var alertErr error
	if c.handshakeDone.Load() {
		c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		alertErr = c.closeNotify()
	}
	if err := c.conn.Close(); err != nil {
		return err
	}
	return alertErr
}

// ConnectionState returns details about the connection.
func (c *Conn) ConnectionState() ConnectionState {
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	st := c.state
	st.HandshakeComplete = c.handshakeDone.Load()
	return st
}

// ExportKeyingMaterial returns length bytes of keying material for label
// and context, as TLS-Exporter of RFC 8446 7.5. It fails before the
// handshake has completed.
func (c *Conn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if !c.handshakeDone.Load() {
		return nil, errors.New("tlspake: ExportKeyingMaterial before the handshake completed")
	}
	if length < 0 || length > 255*c.suite.hash.Size() {
		return nil, fmt.Errorf("tlspake: exporter length %d out of range", length)
	}
	if len(label) > 255-len("tls13 ") {
		return nil, fmt.Errorf("tlspake: exporter label of %d bytes is too long (at most %d)", len(label), 255-len("tls13 "))
	}
	return exportKeyingMaterial(c.suite.hash, c.expMaster, label, context, length), nil
}
