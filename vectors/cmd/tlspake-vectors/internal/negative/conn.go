package negative

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// memConn is one end of an in-memory, buffered, full-duplex connection:
// like a loopback TCP connection, writes never wait for the peer to read,
// and CloseWrite half-closes (the peer reads io.EOF once it has read
// everything written before). Read deadlines are supported; a write only
// fails once the connection is closed or its write deadline has passed.
type memConn struct {
	in, out *memStream
	name    string

	mu       sync.Mutex // guards wdl and timer
	wdl      time.Time
	timer    *time.Timer
	closeOne sync.Once
}

// memStream is one direction of a memConn pair.
type memStream struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	eof     bool      // the writer closed: the reader gets io.EOF once buf is empty
	closed  bool      // the reader closed its end: reads and writes fail
	readDL  time.Time // the reader's deadline
	expired bool      // readDL has passed (set by the timer, or seen by Read)
}

func newMemStream() *memStream {
	s := new(memStream)
	s.cond = sync.NewCond(&s.mu)
	return s
}

// memPipe returns the two ends of a new in-memory connection.
func memPipe() (a, b *memConn) {
	ab, ba := newMemStream(), newMemStream()
	return &memConn{in: ba, out: ab, name: "implementation"}, &memConn{in: ab, out: ba, name: "vector-peer"}
}

func (c *memConn) Read(p []byte) (int, error) {
	s := c.in
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		switch {
		case s.closed:
			return 0, net.ErrClosed
		case len(s.buf) > 0:
			if len(p) == 0 {
				return 0, nil
			}
			n := copy(p, s.buf)
			s.buf = s.buf[n:]
			return n, nil
		case s.eof:
			return 0, io.EOF
		case s.expired || (!s.readDL.IsZero() && !time.Now().Before(s.readDL)):
			s.expired = true
			return 0, os.ErrDeadlineExceeded
		}
		s.cond.Wait()
	}
}

func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	wdl := c.wdl
	c.mu.Unlock()
	if !wdl.IsZero() && !time.Now().Before(wdl) {
		return 0, os.ErrDeadlineExceeded
	}
	s := c.out
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.eof {
		return 0, net.ErrClosed
	}
	s.buf = append(s.buf, p...)
	s.cond.Broadcast()
	return len(p), nil
}

// CloseWrite ends the data this side sends: the peer reads io.EOF after
// the bytes already written. Reading goes on.
func (c *memConn) CloseWrite() error {
	s := c.out
	s.mu.Lock()
	s.eof = true
	s.cond.Broadcast()
	s.mu.Unlock()
	return nil
}

// Close closes both directions. The peer still reads what was written
// before, then io.EOF.
func (c *memConn) Close() error {
	c.closeOne.Do(func() {
		c.CloseWrite()
		s := c.in
		s.mu.Lock()
		s.closed = true
		s.buf = nil
		s.cond.Broadcast()
		s.mu.Unlock()
		c.mu.Lock()
		if c.timer != nil {
			c.timer.Stop()
		}
		c.mu.Unlock()
	})
	return nil
}

func (c *memConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	s := c.in
	s.mu.Lock()
	s.readDL, s.expired = t, false
	s.cond.Broadcast()
	s.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if !t.IsZero() {
		c.timer = time.AfterFunc(time.Until(t), func() {
			s.mu.Lock()
			if s.readDL.Equal(t) {
				s.expired = true
				s.cond.Broadcast()
			}
			s.mu.Unlock()
		})
	}
	return nil
}

func (c *memConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.mu.Unlock()
	return nil
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

func (c *memConn) LocalAddr() net.Addr { return memAddr(c.name) }

func (c *memConn) RemoteAddr() net.Addr {
	if c.name == "implementation" {
		return memAddr("vector-peer")
	}
	return memAddr("implementation")
}
