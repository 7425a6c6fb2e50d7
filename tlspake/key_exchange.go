package tlspake

import (
	"crypto/mlkem"
	"io"

	"github.com/tlspake/pake/internal/cpacecore"
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

// keyShareSize is the size of a client key share for g, or 0 for a group
// this package does not implement (whose shares are not looked at).
func keyShareSize(g CurveID) int {
	switch g {
	case X25519:
		return cpacecore.PointSize
	case X25519MLKEM768:
		return mlkem.EncapsulationKeySize768 + cpacecore.PointSize
	}
	return 0
}

// newClientKeyExchange generates a client key share for g.
func newClientKeyExchange(g CurveID, rand io.Reader) (keyExchange, error) {
	switch g {
	case X25519:
		return newX25519Exchange(rand)
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
		x, err := newX25519Exchange(rand)
		if err != nil {
			return nil, err
		}
		return &hybridExchange{dk, x}, nil
	}
	return nil, alertf(AlertInternalError, "unsupported group %v", g)
}

// serverKeyExchange answers a client's key share for group g: it returns
// the server's key_share data and the shared secret. An invalid client
// share is an illegal_parameter.
func serverKeyExchange(g CurveID, clientShare []byte, rand io.Reader) (share, secret []byte, err error) {
	switch g {
	case X25519:
		if len(clientShare) != cpacecore.PointSize {
			return nil, nil, alertf(AlertIllegalParameter, "invalid X25519 key share from the client")
		}
		x, err := newX25519Exchange(rand)
		if err != nil {
			return nil, nil, err
		}
		secret, err := x.sharedSecret(clientShare, "client")
		if err != nil {
			return nil, nil, err
		}
		return x.share(), secret, nil
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

// x25519Exchange is an ephemeral X25519 key. Its public key comes from
// the fixed-base multiplication and its shared secret from the ladder,
// both constant time and both checked against crypto/ecdh in tests.
type x25519Exchange struct {
	priv, pub [32]byte
}

func newX25519Exchange(rand io.Reader) (*x25519Exchange, error) {
	x := new(x25519Exchange)
	if _, err := io.ReadFull(rand, x.priv[:]); err != nil {
		return nil, err
	}
	cpacecore.X25519Base(&x.pub, &x.priv)
	return x, nil
}

func (x *x25519Exchange) group() CurveID { return X25519 }
func (x *x25519Exchange) share() []byte  { return append([]byte(nil), x.pub[:]...) }
func (x *x25519Exchange) clientSharedSecret(serverShare []byte) ([]byte, error) {
	return x.sharedSecret(serverShare, "server")
}

// sharedSecret is X25519(priv, peer); a low-order peer share is an
// illegal_parameter. The private key is wiped afterwards.
func (x *x25519Exchange) sharedSecret(peer []byte, who string) ([]byte, error) {
	if len(peer) != cpacecore.PointSize {
		return nil, alertf(AlertIllegalParameter, "invalid X25519 key share from the %s", who)
	}
	out := make([]byte, cpacecore.PointSize)
	isID := cpacecore.X25519((*[32]byte)(out), &x.priv, (*[32]byte)(peer))
	clear(x.priv[:])
	if isID == 1 {
		return nil, alertf(AlertIllegalParameter, "the %s's X25519 key share is a low-order point", who)
	}
	return out, nil
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
