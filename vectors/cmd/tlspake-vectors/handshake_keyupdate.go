package main

import (
	"context"
	"errors"
)

// A key_update step needs a way to make a tlspake.Conn send a KeyUpdate.
// The package sends one only from an unexported method, so the tool needs
// a hook in internal/tracehook that the core installs, for example
//
//	// in internal/tracehook:
//	type KeyUpdater func(requestUpdate bool) error
//	func WithKeyUpdater(ctx context.Context, recv func(KeyUpdater)) context.Context
//	func KeyUpdaterReceiver(ctx context.Context) func(KeyUpdater)
//
//	// in (*tlspake.Conn).HandshakeContext, next to the tracer:
//	if r := tracehook.KeyUpdaterReceiver(ctx); r != nil {
//		r(c.updateKeys)
//	}
//
// Until it exists, withKeyUpdater installs nothing, keyUpdateSupported
// reports false, and a vector with a key_update step fails with
// errNoKeyUpdate. Once it exists, withKeyUpdater becomes
//
//	return tracehook.WithKeyUpdater(ctx, func(u tracehook.KeyUpdater) { recv(u) })
//
// and keyUpdateSupported returns true.

// errNoKeyUpdate is the error of a key_update step this build cannot run.
var errNoKeyUpdate = errors.New("key_update steps need a KeyUpdate trigger that this build of tlspake does not offer yet (see handshake_keyupdate.go); the other party's KeyUpdate can still be received")

// keyUpdateSupported reports whether withKeyUpdater can deliver a trigger.
func keyUpdateSupported() bool { return false }

// withKeyUpdater returns a context that makes the connection whose
// handshake runs with it hand recv a function that sends a KeyUpdate
// (requestUpdate sets request_update).
func withKeyUpdater(ctx context.Context, recv func(func(requestUpdate bool) error)) context.Context {
	_ = recv
	return ctx
}
