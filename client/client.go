// Package client is the client side of tlspake: dial a device with the
// code printed on its label and talk HTTP to it.
//
//	c, err := client.Dial(ctx, "192.168.1.20:8443", "K7Q2M-9XH4V", nil)
//
// or, for HTTP,
//
//	hc := &http.Client{Transport: &client.Transport{Code: "K7Q2M-9XH4V"}}
//	resp, err := hc.Get("https://192.168.1.20:8443/")
//
// A mistyped code is caught locally and costs no attempt against the
// device. Every failure is an [*Error] whose message tells a person what
// happened and what to do.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// Options are optional settings for Dial and Transport.
type Options struct {
	// Identity is the device's PAKE server identity (the id of its
	// pairing URI); empty by default, as on the device.
	Identity string
	// ClientIdentity is this client's PAKE identity; empty by default.
	ClientIdentity string
	// HandshakeTimeout bounds the handshake; zero means 15 seconds.
	HandshakeTimeout time.Duration
	// NetDialer dials the TCP connection; nil means a net.Dialer with a
	// 10-second timeout.
	NetDialer *net.Dialer
	// NextProtos lists ALPN protocols; nil means "http/1.1".
	NextProtos []string
	// OnHandshake, if set, is called after each successful handshake,
	// for progress reports.
	OnHandshake func(addr string, state tlspake.ConnectionState)
	// PSKs are raw external PSKs to offer (for interoperability checks);
	// pairings normally come from Store.
	PSKs []tlspake.PSK
	// Store, if set, supplies the pairing for the device (made earlier
	// with Pair): the connection then needs no code. With both a pairing
	// and a code, the device uses the pairing if it still knows it.
	Store *Store
}

// ErrorKind classifies an Error.
type ErrorKind int

const (
	// WrongCode: the device rejected the code (or does not know the
	// identity).
	WrongCode ErrorKind = iota + 1
	// Mistyped: the code does not parse; nothing was sent.
	Mistyped
	// Unreachable: the device could not be reached.
	Unreachable
	// NotDevice: the address answered, but not as a tlspake device.
	NotDevice
	// Timeout: the device did not answer in time.
	Timeout
	// Protocol: any other handshake failure.
	Protocol
	// NotPaired: no code was given and the device does not (or no longer)
	// recognise this client's pairing.
	NotPaired
	// Refused: the device is not taking code attempts now (too many
	// wrong codes recently, or its pairing window is closed).
	Refused
)

// Error is a failure to connect to a device.
type Error struct {
	Kind ErrorKind
	Addr string
	Err  error
}

// Error returns a message a person can act on.
func (e *Error) Error() string {
	switch e.Kind {
	case WrongCode:
		return fmt.Sprintf("the device at %s rejected the code: check the code on its label and try again", e.Addr)
	case Mistyped:
		return fmt.Sprintf("the code is mistyped (nothing was sent to the device): %v", e.Err)
	case Unreachable:
		return fmt.Sprintf("cannot reach %s: %v (is the device on, and is the address right?)", e.Addr, e.Err)
	case NotDevice:
		return fmt.Sprintf("%s is not a tlspake device: it does not speak the pake extension (is the address and port right?)", e.Addr)
	case Timeout:
		return fmt.Sprintf("%s did not answer in time: %v", e.Addr, e.Err)
	case Refused:
		return fmt.Sprintf("the device at %s is refusing pairing attempts for now (too many wrong codes, or pairing is not open on it); try again in a while", e.Addr)
	case NotPaired:
		if e.Err == nil {
			return fmt.Sprintf("no code given and no pairing with %s: pair first with the code from its label (tlspake pair)", e.Addr)
		}
		return fmt.Sprintf("the device at %s no longer recognises this client; pair again with the code from its label", e.Addr)
	}
	return fmt.Sprintf("handshake with %s failed: %v", e.Addr, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// classify wraps a dial or handshake error.
func classify(addr string, err error, handshake bool) *Error {
	var ne net.Error
	switch {
	case errors.Is(err, tlspake.ErrCodeMismatch):
		return &Error{WrongCode, addr, err}
	case errors.Is(err, tlspake.ErrAttemptsRefused):
		return &Error{Refused, addr, err}
	case errors.Is(err, tlspake.ErrPSKRejected):
		return &Error{NotPaired, addr, err}
	case errors.Is(err, tlspake.ErrNotPAKEPeer):
		return &Error{NotDevice, addr, err}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &Error{Timeout, addr, err}
	case !handshake:
		return &Error{Unreachable, addr, err}
	}
	return &Error{Protocol, addr, err}
}

// ParseCode reads a code or a pairing URI as a person typed it. For a URI
// it also returns the identity and address hint it carries.
func ParseCode(s string) (paircode.Invite, error) {
	if paircode.IsURI(s) {
		inv, err := paircode.ParseURI(s)
		if err != nil {
			return inv, &Error{Kind: Mistyped, Err: err}
		}
		return inv, nil
	}
	code, err := paircode.Parse(s)
	if err != nil {
		return paircode.Invite{}, &Error{Kind: Mistyped, Err: err}
	}
	return paircode.Invite{Code: code}, nil
}

func (o *Options) config(code paircode.Code) *tlspake.Config {
	protos := o.NextProtos
	if protos == nil {
		protos = []string{"http/1.1"}
	}
	timeout := o.HandshakeTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	return &tlspake.Config{
		Code:             code.PRS(),
		ClientIdentity:   []byte(o.ClientIdentity),
		ServerIdentity:   []byte(o.Identity),
		NextProtos:       protos,
		HandshakeTimeout: timeout,
	}
}

func (o *Options) netDialer() *net.Dialer {
	if o != nil && o.NetDialer != nil {
		return o.NetDialer
	}
	return &net.Dialer{Timeout: 10 * time.Second}
}

// Dial connects to the device at addr (host:port) and authenticates with
// code, which may be typed by a person (see paircode.Parse) or be a
// pairing URI. It returns the authenticated connection or an *Error.
//
// With Options.Store holding a pairing for the device, code may be empty.
func Dial(ctx context.Context, addr, code string, opts *Options) (*tlspake.Conn, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	var c paircode.Code
	if code != "" {
		inv, err := ParseCode(code)
		if err != nil {
			return nil, withAddr(err, addr)
		}
		c = inv.Code
		if o.Identity == "" {
			o.Identity = inv.Identity
		}
	}
	return dialCode(ctx, addr, c, &o)
}

// dialCode dials with the code (may be zero) and any stored pairing.
func dialCode(ctx context.Context, addr string, code paircode.Code, opts *Options) (*tlspake.Conn, error) {
	cfg := opts.config(code)
	if code.IsZero() {
		cfg.Code = nil
	}
	cfg.PSKs = opts.PSKs
	fromStore := false
	if opts.Store != nil {
		p, ok, err := opts.Store.Lookup(addr, opts.Identity)
		if err != nil && code.IsZero() {
			return nil, err // with a code, a damaged store does not stop us
		}
		if ok {
			cfg.PSKs = append(cfg.PSKs, p.PSK())
			fromStore = true
		}
	}
	if len(cfg.Code) == 0 && len(cfg.PSKs) == 0 {
		return nil, &Error{Kind: NotPaired, Addr: addr}
	}
	raw, err := opts.netDialer().DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, classify(addr, err, false)
	}
	c := tlspake.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		e := classify(addr, err, true)
		if e.Kind == NotPaired && !fromStore {
			e.Kind = Protocol // a raw PSK, not a pairing: no label to go back to
		}
		return nil, e
	}
	if opts.OnHandshake != nil {
		opts.OnHandshake(addr, c.ConnectionState())
	}
	return c, nil
}
