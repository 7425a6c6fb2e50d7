// Package tracehook lets the project's own tools (the conformance-vector
// generator) observe every intermediate value of a tlspake handshake:
// secrets, keys, messages and records. It works through a context value
// that only code inside this module can set, so no public API exposes
// secrets.
package tracehook

import "context"

// Tracer receives a named value. Values are copies the tracer may keep.
type Tracer func(name string, value []byte)

type key struct{}

// With returns a context carrying t; pass it to Conn.HandshakeContext.
func With(ctx context.Context, t Tracer) context.Context {
	return context.WithValue(ctx, key{}, t)
}

// From returns the tracer in ctx, or nil.
func From(ctx context.Context) Tracer {
	t, _ := ctx.Value(key{}).(Tracer)
	return t
}

// KeyUpdater sends a KeyUpdate on a connection (asking the peer to update
// too when requestUpdate is set).
type KeyUpdater func(requestUpdate bool) error

type keyUpdaterKey struct{}

// WithKeyUpdater returns a context that hands the connection's KeyUpdater
// to recv when the handshake starts, so the vector tool can send a
// KeyUpdate at a fixed point of an application exchange.
func WithKeyUpdater(ctx context.Context, recv func(KeyUpdater)) context.Context {
	return context.WithValue(ctx, keyUpdaterKey{}, recv)
}

// KeyUpdaterReceiver returns the receiver in ctx, or nil.
func KeyUpdaterReceiver(ctx context.Context) func(KeyUpdater) {
	r, _ := ctx.Value(keyUpdaterKey{}).(func(KeyUpdater))
	return r
}
