package tlspake

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/tlspake/pake/internal/tracehook"
)

// halfConn is one direction of the record layer: its AEAD, IV, sequence
// number and traffic secret.
type halfConn struct {
	sync.Mutex
	err    error // sticky error: once set, this direction is unusable
	suite  *cipherSuite
	aead   cipher.AEAD
	iv     [12]byte
	seq    uint64
	secret []byte
	nbuf   [12]byte // the current nonce, kept here so it does not escape per record
	trace  tracehook.Tracer
	dir    string // "read" or "write", for traces
}

// setTrafficSecret installs the keys derived from a traffic secret and
// resets the sequence number.
func (hc *halfConn) setTrafficSecret(suite *cipherSuite, secret []byte) error {
	key, iv := trafficKeys(suite, secret)
	aead, err := suite.aead(key)
	if err != nil {
		return err
	}
	if hc.trace == nil {
		clear(key)
	}
	if hc.trace != nil {
		hc.trace(hc.dir+"_traffic_secret", bytes.Clone(secret))
		hc.trace(hc.dir+"_key", key)
		hc.trace(hc.dir+"_iv", bytes.Clone(iv))
	}
	clear(hc.secret)
	hc.suite, hc.aead, hc.secret, hc.seq = suite, aead, secret, 0
	copy(hc.iv[:], iv)
	return nil
}

func (hc *halfConn) nonce() []byte {
	hc.nbuf = hc.iv
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], hc.seq)
	for i := range seq {
		hc.nbuf[4+i] ^= seq[i]
	}
	return hc.nbuf[:]
}

// rawBuffer holds bytes read from the network that are not yet consumed,
// so that a read interrupted by a deadline resumes where it stopped.
type rawBuffer struct {
	buf        []byte
	start, end int
}

// fill makes at least n bytes available, reading from r as needed. On
// error the bytes already read are kept.
func (rb *rawBuffer) fill(r io.Reader, n int) error {
	if rb.end-rb.start >= n {
		return nil
	}
	if rb.start+n > len(rb.buf) {
		copy(rb.buf, rb.buf[rb.start:rb.end])
		rb.end -= rb.start
		rb.start = 0
	}
	if n > len(rb.buf) {
		// Start small (handshake records are short) and grow once to the
		// largest record on the first big one.
		size := 4096
		if n > size {
			size = recordHeaderLen + maxCiphertext + 1024
		}
		nb := make([]byte, size)
		rb.end = copy(nb, rb.buf[rb.start:rb.end])
		rb.start = 0
		rb.buf = nb
	}
	for rb.end-rb.start < n {
		m, err := r.Read(rb.buf[rb.end:])
		rb.end += m
		if rb.end-rb.start >= n {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if rb.end == rb.start {
					return io.EOF
				}
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

func (rb *rawBuffer) bytes() []byte { return rb.buf[rb.start:rb.end] }
func (rb *rawBuffer) consume(n int) { rb.start += n }

// readRecord reads one record and returns its content type and content,
// decrypted when keys are set. Content returned for application data
// points into the raw buffer and is valid until the next call.
// Called with c.in locked.
func (c *Conn) readRecord() (uint8, []byte, error) {
	for {
		if err := c.raw.fill(c.conn, recordHeaderLen); err != nil {
			return 0, nil, c.readErr(err)
		}
		hdr := c.raw.bytes()[:recordHeaderLen]
		typ := hdr[0]
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if !c.sawRecord {
			// The first record must look like TLS at all; anything else is
			// most likely another protocol (plain HTTP, for instance).
			if (typ != recordTypeHandshake && typ != recordTypeAlert) || hdr[1] != 3 {
				c.notTLS = true
				return 0, nil, c.fatal(alertf(AlertUnexpectedMessage, "the peer does not speak TLS (first bytes %q)", printable(hdr)))
			}
		}
		if n > maxCiphertext || (c.in.aead == nil && n > maxPlaintext) {
			return 0, nil, c.fatal(alertf(AlertRecordOverflow, "record of %d bytes is too large", n))
		}
		if err := c.raw.fill(c.conn, recordHeaderLen+n); err != nil {
			return 0, nil, c.readErr(err)
		}
		c.sawRecord = true
		rec := c.raw.bytes()[:recordHeaderLen+n]
		c.raw.consume(recordHeaderLen + n)
		if c.in.trace != nil {
			c.in.trace("record_in", bytes.Clone(rec))
		}
		body := rec[recordHeaderLen:]

		// A compatibility change_cipher_spec (RFC 8446 5, D.4) is dropped
		// while the handshake allows it.
		if typ == recordTypeChangeCipherSpec {
			if !c.allowCCS || len(body) != 1 || body[0] != 1 || len(c.hand) > 0 {
				// Not allowed at all, malformed, or between two fragments of
				// a handshake message (RFC 8446 5.1).
				return 0, nil, c.fatal(alertf(AlertUnexpectedMessage, "unexpected change_cipher_spec record"))
			}
			continue
		}
		if c.in.aead == nil {
			if typ == recordTypeApplicationData && c.earlySkip >= n {
				c.earlySkip -= n // rejected 0-RTT data before the second ClientHello
				continue
			}
			if typ != recordTypeHandshake && typ != recordTypeAlert {
				return 0, nil, c.fatal(alertf(AlertUnexpectedMessage, "unexpected plaintext record of type %d", typ))
			}
			if n == 0 && typ == recordTypeHandshake {
				return 0, nil, c.fatal(alertf(AlertUnexpectedMessage, "empty handshake record"))
			}
			return typ, body, nil
		}
		if typ != recordTypeApplicationData {
			if typ == recordTypeAlert && !c.handshakeDone.Load() && len(body) == 2 {
				// A peer that failed before it had keys may still answer
				// in plaintext; report its alert rather than a confusing
				// unexpected_message.
				return typ, body, nil
			}
			return 0, nil, c.fatal(alertf(AlertUnexpectedMessage, "unexpected unprotected record of type %d", typ))
		}
		if n < c.in.aead.Overhead()+1 {
			return 0, nil, c.fatal(c.decryptFailed())
		}
		plain, err := c.in.aead.Open(body[:0], c.in.nonce(), body, rec[:recordHeaderLen])
		if err != nil {
			if c.earlySkip >= n {
				c.earlySkip -= n // rejected 0-RTT data (RFC 8446 4.2.10)
				continue
			}
			return 0, nil, c.fatal(c.decryptFailed())
		}
		c.earlySkip = 0
		c.in.seq++
		if c.in.seq == 0 {
			return 0, nil, c.fatal(alertf(AlertInternalError, "read sequence number wrapped"))
		}
		if len(plain) > maxPlaintext+1 {
			return 0, nil, c.fatal(alertf(AlertRecordOverflow, "decrypted record of %d bytes is too large", len(plain)))
		}
		// Strip the padding: the content type is the last non-zero byte.
		i := len(plain) - 1
		for i >= 0 && plain[i] == 0 {
			i--
		}
		if i < 0 {
			return 0, nil, c.fatal(alertf(AlertUnexpectedMessage, "protected record has no content type"))
		}
		typ, plain = plain[i], plain[:i]
		switch typ {
		case recordTypeApplicationData, recordTypeAlert:
		case recordTypeHandshake:
			if len(plain) == 0 {
				return 0, nil, c.fatal(alertf(AlertUnexpectedMessage, "empty handshake record"))
			}
		default:
			return 0, nil, c.fatal(alertf(AlertUnexpectedMessage, "unexpected protected record of type %d", typ))
		}
		return typ, plain, nil
	}
}

// decryptFailed is the error for a record that does not authenticate:
// bad_record_mac, which after a ServerHello that selected pake and before
// the peer's Finished is the sign of a code mismatch.
func (c *Conn) decryptFailed() error {
	a := alertf(AlertBadRecordMAC, "a record from the peer could not be decrypted")
	if c.pakeInFlight {
		return &codeMismatchError{a}
	}
	return a
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, x := range b {
		if x >= 0x20 && x < 0x7f {
			out[i] = x
		} else {
			out[i] = '.'
		}
	}
	return string(out)
}

// readErr converts an error from the transport. EOF at a record boundary
// before close_notify, or in the middle of a record, is never a clean end
// of stream.
func (c *Conn) readErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err // resumable: the partial record is kept
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if !c.sawRecord {
			err = fmt.Errorf("tlspake: the peer closed the connection before sending anything: %w", io.ErrUnexpectedEOF)
		} else {
			err = fmt.Errorf("tlspake: the peer closed the connection without close_notify (data may be truncated): %w", io.ErrUnexpectedEOF)
		}
	}
	c.in.err = err
	return err
}

// writeRecord protects and writes data as one or more records of type typ.
// Called with c.out locked.
func (c *Conn) writeRecord(typ uint8, data []byte) (int, error) {
	if c.out.err != nil {
		return 0, c.out.err
	}
	n := 0
	buf := c.outBuf[:0]
	for first := true; first || len(data) > 0; first = false {
		if c.out.aead != nil && c.out.seq >= c.out.suite.recordLimit && c.handshakeDone.Load() && typ == recordTypeApplicationData {
			// Move to a fresh key before the AEAD's limit (RFC 8446 5.5).
			if err := c.flushRecords(buf); err != nil {
				return n, err
			}
			buf = c.outBuf[:0]
			if err := c.sendKeyUpdateLocked(false); err != nil {
				return n, err
			}
		}
		m := min(len(data), maxPlaintext)
		buf = c.appendRecord(buf, typ, data[:m])
		data = data[m:]
		n += m
		if len(buf) > 64<<10 {
			if err := c.flushRecords(buf); err != nil {
				return 0, err
			}
			buf = c.outBuf[:0]
		}
	}
	if err := c.flushRecords(buf); err != nil {
		return 0, err
	}
	return n, nil
}

// appendRecord appends one record holding data to buf.
func (c *Conn) appendRecord(buf []byte, typ uint8, data []byte) []byte {
	start := len(buf)
	if c.out.trace != nil {
		defer func() { c.out.trace("record_out", bytes.Clone(buf[start:])) }()
	}
	if c.out.aead == nil {
		buf = append(buf, typ, 3, 3, 0, 0)
		if typ == recordTypeHandshake && c.isClient && !c.sentFirstRecord {
			buf[start+2] = 1 // legacy_record_version 0x0301 for the initial ClientHello
		}
		c.sentFirstRecord = true
		buf = append(buf, data...)
		binary.BigEndian.PutUint16(buf[start+3:], uint16(len(data)))
		return buf
	}
	ctLen := len(data) + 1 + c.out.aead.Overhead()
	buf = append(buf, recordTypeApplicationData, 3, 3, byte(ctLen>>8), byte(ctLen))
	buf = append(buf, data...)
	buf = append(buf, typ)
	hdr := buf[start : start+recordHeaderLen]
	buf = c.out.aead.Seal(buf[:start+recordHeaderLen], c.out.nonce(), buf[start+recordHeaderLen:], hdr)
	c.out.seq++
	return buf
}

// flushRecords writes buf to the transport, or to the pending flight while
// a handshake flight is being assembled.
func (c *Conn) flushRecords(buf []byte) error {
	if cap(buf) > cap(c.outBuf) && cap(buf) <= 128<<10 {
		c.outBuf = buf[:0]
	}
	if len(buf) == 0 {
		return nil
	}
	if c.buffering {
		c.flight = append(c.flight, buf...)
		return nil
	}
	if _, err := c.conn.Write(buf); err != nil {
		c.out.err = err // a failed write leaves the record stream corrupt
		return err
	}
	return nil
}

// flushFlight sends the buffered handshake flight.
func (c *Conn) flushFlight() error {
	c.buffering = false
	if len(c.flight) == 0 {
		return nil
	}
	_, err := c.conn.Write(c.flight)
	c.flight = c.flight[:0]
	if err != nil {
		c.out.err = err
	}
	return err
}

// sendAlertLocked sends a fatal alert (or close_notify). c.out is locked.
func (c *Conn) sendAlertLocked(a Alert) error {
	level := byte(2)
	if a == AlertCloseNotify || a == AlertUserCanceled {
		level = 1
	}
	if c.buffering {
		c.buffering = false
		c.flight = c.flight[:0]
	}
	_, err := c.writeRecord(recordTypeAlert, []byte{level, byte(a)})
	return err
}
