package tlspake

import (
	"crypto/ecdh"
	"crypto/mlkem"
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
	return g == X25519 || g == X25519MLKEM768
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
	case X25519MLKEM768:
		var seed [mlkem.SeedSize]byte
		if _, err := io.ReadFull(rand, seed[:]); err != nil {
			return nil, err
		}
		dk, err := mlkem.NewDecapsulationKey768(seed[:])
		clear(seed[:])
		if err != nil {
			return nil, err
		}
		k, err := ecdh.X25519().GenerateKey(rand)
		if err != nil {
			return nil, err
		}
		return &hybridExchange{dk, &x25519Exchange{k}}, nil
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
	case X25519MLKEM768:
		// draft-ietf-tls-ecdhe-mlkem: the client share is the ML-KEM-768
		// encapsulation key followed by the X25519 share; the server's is
		// the ML-KEM ciphertext followed by its X25519 share; the shared
		// secret is the ML-KEM shared secret followed by the X25519 one.
		if len(clientShare) != mlkem.EncapsulationKeySize768+32 {
			return nil, nil, alertf(AlertIllegalParameter, "X25519MLKEM768 key share of %d bytes", len(clientShare))
		}
		ek, err := mlkem.NewEncapsulationKey768(clientShare[:mlkem.EncapsulationKeySize768])
		if err != nil {
			return nil, nil, alertf(AlertIllegalParameter, "invalid ML-KEM-768 encapsulation key from the client")
		}
		xShare, xSecret, err := serverKeyExchange(X25519, clientShare[mlkem.EncapsulationKeySize768:], rand)
		if err != nil {
			return nil, nil, err
		}
		kemSecret, ct := ek.Encapsulate()
		return append(ct, xShare...), append(kemSecret, xSecret...), nil
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

type hybridExchange struct {
	dk *mlkem.DecapsulationKey768
	x  *x25519Exchange
}

func (h *hybridExchange) group() CurveID { return X25519MLKEM768 }
func (h *hybridExchange) share() []byte {
	return append(h.dk.EncapsulationKey().Bytes(), h.x.share()...)
}
func (h *hybridExchange) clientSharedSecret(serverShare []byte) ([]byte, error) {
	if len(serverShare) != mlkem.CiphertextSize768+32 {
		return nil, alertf(AlertIllegalParameter, "X25519MLKEM768 server share of %d bytes", len(serverShare))
	}
	kemSecret, err := h.dk.Decapsulate(serverShare[:mlkem.CiphertextSize768])
	if err != nil {
		return nil, alertf(AlertIllegalParameter, "invalid ML-KEM-768 ciphertext from the server")
	}
	xSecret, err := h.x.clientSharedSecret(serverShare[mlkem.CiphertextSize768:])
	if err != nil {
		return nil, err
	}
	return append(kemSecret, xSecret...), nil
}
