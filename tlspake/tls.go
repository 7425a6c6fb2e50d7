package tlspake

import (
	"context"
	"errors"
	"net"
)

// Dialer dials tlspake connections: it connects with NetDialer and runs
// the client handshake with Config.
type Dialer struct {
	// NetDialer is the dialer for the underlying connection; nil means a
	// zero net.Dialer.
	NetDialer *net.Dialer
	// Config is the client configuration. It is required.
	Config *Config
}

// DialContext connects to addr and completes the handshake, both bounded
// by ctx (and the handshake by Config.HandshakeTimeout). The returned
// net.Conn is a *Conn.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.Config == nil {
		return nil, errors.New("tlspake: Dialer.Config is nil")
	}
	nd := d.NetDialer
	if nd == nil {
		nd = new(net.Dialer)
	}
	raw, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := Client(raw, d.Config)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// Dial is DialContext with a background context.
func (d *Dialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

// Dial connects to addr on the named network and completes a tlspake
// handshake with config.
func Dial(network, addr string, config *Config) (*Conn, error) {
	c, err := (&Dialer{Config: config}).Dial(network, addr)
	if err != nil {
		return nil, err
	}
	return c.(*Conn), nil
}

type listener struct {
	net.Listener
	config *Config
}

// Accept waits for the next connection and returns it as a server *Conn.
// The handshake runs on the connection's first Read or Write (or an
// explicit Handshake), so a slow client does not hold up Accept.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Server(c, l.config), nil
}

// NewListener returns a listener whose accepted connections are server
// Conns using config.
func NewListener(inner net.Listener, config *Config) net.Listener {
	return &listener{inner, config}
}

// Listen listens on the address and returns a listener of server Conns.
func Listen(network, addr string, config *Config) (net.Listener, error) {
	if config == nil || (len(config.Code) == 0 && config.GetCode == nil) {
		return nil, errors.New("tlspake: Listen needs a Config with Code or GetCode")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return NewListener(l, config), nil
}
