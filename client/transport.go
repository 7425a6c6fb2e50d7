package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tlspake/pake/tlspake/paircode"
)

// Transport is an http.RoundTripper for https:// URLs of tlspake devices:
// each new connection is authenticated with Code, and idle connections
// are reused. Plain http:// URLs are refused.
type Transport struct {
	// Code is the device's code or pairing URI. It may be empty when
	// Options.Store holds a pairing for the device.
	Code string
	// Options are passed to each dial.
	Options Options
	// MaxIdleConnsPerHost bounds kept-alive connections; zero means 4.
	MaxIdleConnsPerHost int

	once sync.Once
	rt   *http.Transport
	code paircode.Code
	err  error
}

func (t *Transport) init() {
	var inv paircode.Invite
	if t.Code != "" {
		var err error
		if inv, err = ParseCode(t.Code); err != nil {
			t.err = err
			return
		}
	}
	t.code = inv.Code
	opts := t.Options
	if opts.Identity == "" {
		opts.Identity = inv.Identity
	}
	idle := t.MaxIdleConnsPerHost
	if idle == 0 {
		idle = 4
	}
	t.rt = &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialCode(ctx, addr, t.code, &opts)
		},
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}
}

var errPlainHTTP = errors.New("client: refusing a plain http:// URL: a tlspake device is reached with https:// (the connection is authenticated with its code)")

// RoundTrip sends one request over an authenticated connection.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(t.init)
	if t.err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, t.err
	}
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errPlainHTTP
	}
	return t.rt.RoundTrip(req)
}

// CloseIdleConnections closes kept-alive connections.
func (t *Transport) CloseIdleConnections() {
	t.once.Do(t.init)
	if t.rt != nil {
		t.rt.CloseIdleConnections()
	}
}
