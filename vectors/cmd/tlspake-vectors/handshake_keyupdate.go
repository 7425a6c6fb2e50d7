package main

import (
	"context"
	"errors"

	"github.com/tlspake/pake/internal/tracehook"
)

// A key_update step makes a tlspake.Conn send a KeyUpdate. The package
// sends one only from an unexported method; the core hands it to the tool
// through internal/tracehook when the handshake starts.

// errNoKeyUpdate is the error of a key_update step for a connection that
// did not hand over its KeyUpdater.
var errNoKeyUpdate = errors.New("key_update step: the connection offered no KeyUpdate trigger")

// withKeyUpdater returns a context that makes the connection whose
// handshake runs with it hand recv a function that sends a KeyUpdate
// (requestUpdate sets request_update).
func withKeyUpdater(ctx context.Context, recv func(func(requestUpdate bool) error)) context.Context {
	return tracehook.WithKeyUpdater(ctx, func(u tracehook.KeyUpdater) { recv(u) })
}
