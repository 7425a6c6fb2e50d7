package tlspake

import (
	"crypto"
	"errors"
)

// Exporter labels of PROFILE.md section 5.
const (
	labelPairingID  = "EXPORTER-tlspake pairing id"
	labelPairingKey = "EXPORTER-tlspake pairing key"
)

// Pairing lets a client and a server that completed a PAKE handshake
// reconnect later without the code, as an external PSK (PROFILE.md
// section 5): PSK identity = ID, PSK = Secret, hash SHA-256.
type Pairing struct {
	// ID is the 16-byte pairing identity, sent in the clear.
	ID []byte
	// Secret is the 32-byte pairing secret.
	Secret []byte
}

// DerivePairing returns the pairing of this connection. Both sides derive
// the same value. It fails unless the handshake completed with the code
// (a PSK connection does not make a new pairing).
func (c *Conn) DerivePairing() (Pairing, error) {
	if !c.handshakeDone.Load() {
		return Pairing{}, errors.New("tlspake: DerivePairing before the handshake completed")
	}
	if c.state.Auth != AuthPAKE {
		return Pairing{}, errors.New("tlspake: a pairing comes only from a handshake authenticated with the code")
	}
	id, err := c.ExportKeyingMaterial(labelPairingID, nil, 16)
	if err != nil {
		return Pairing{}, err
	}
	secret, err := c.ExportKeyingMaterial(labelPairingKey, nil, 32)
	if err != nil {
		return Pairing{}, err
	}
	return Pairing{ID: id, Secret: secret}, nil
}

// PSK returns the pairing as an external PSK for Config.PSKs.
func (p Pairing) PSK() PSK {
	return PSK{Identity: p.ID, Secret: p.Secret, Hash: crypto.SHA256}
}
