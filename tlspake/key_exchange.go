package tlspake

import (
	"crypto/ecdh"
	"io"
)

// keyExchange is the client's ephemeral key for one group. Each group
// implementation produces the key_share it sends and, given the server's
// share, the group's shared secret (for a hybrid, the concatenated one).
type keyExchange interface {
	group() CurveID
	share() []byte
	clientSharedSecret(serverShare []byte) ([]byte, error)
}

// groupSupported reports whether this package implements group g.
func groupSupported(g CurveID) bool {
	return g == X25519
}

// newClientKeyExchange generates a client key share for g.
func newClientKeyExchange(g CurveID, rand io.Reader) (keyExchange, error) {
	switch g {
	case X25519:
		k, err := ecdh.X25519().GenerateKey(rand)
		if err != nil {
			return nil, err
		}
		return &x25519Exchange{k}, nil
	}
	return nil, alertf(AlertInternalError, "unsupported group %v", g)
}

// serverKeyExchange answers a client's key share for group g: it returns
// the server's key_share data and the shared secret. An invalid client
// share is an illegal_parameter.
func serverKeyExchange(g CurveID, clientShare []byte, rand io.Reader) (share, secret []byte, err error) {
	switch g {
	case X25519:
		peer, err := ecdh.X25519().NewPublicKey(clientShare)
		if err != nil {
			return nil, nil, alertf(AlertIllegalParameter, "invalid X25519 key share from the client")
		}
		k, err := ecdh.X25519().GenerateKey(rand)
		if err != nil {
			return nil, nil, err
		}
		secret, err := k.ECDH(peer)
		if err != nil {
			return nil, nil, alertf(AlertIllegalParameter, "the client's X25519 key share is a low-order point")
		}
		return k.PublicKey().Bytes(), secret, nil
	}
	return nil, nil, alertf(AlertInternalError, "unsupported group %v", g)
}

type x25519Exchange struct{ k *ecdh.PrivateKey }

func (x *x25519Exchange) group() CurveID { return X25519 }
func (x *x25519Exchange) share() []byte  { return x.k.PublicKey().Bytes() }
func (x *x25519Exchange) clientSharedSecret(serverShare []byte) ([]byte, error) {
	peer, err := ecdh.X25519().NewPublicKey(serverShare)
	if err != nil {
		return nil, alertf(AlertIllegalParameter, "invalid X25519 key share from the server")
	}
	s, err := x.k.ECDH(peer)
	if err != nil {
		return nil, alertf(AlertIllegalParameter, "the server's X25519 key share is a low-order point")
	}
	return s, nil
}
