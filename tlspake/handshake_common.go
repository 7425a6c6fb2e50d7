package tlspake

import (
	"crypto"
	"crypto/hmac"
	"hash"

	"github.com/tlspake/pake/internal/tracehook"

	"github.com/tlspake/pake/internal/cpacecore"
)

// pakeContext is the CPace channel identifier of PROFILE.md section 2:
// lv_cat("tls13pake", client_identity, server_identity).
func pakeContext(clientIdentity, serverIdentity []byte) []byte {
	return cpacecore.LVCat([]byte("tls13pake"), clientIdentity, serverIdentity)
}

// transcript accumulates handshake messages. Before the cipher suite (and
// so the hash) is known, messages are kept and hashed once it is.
type transcript struct {
	h       hash.Hash
	pending [][]byte
	trace   tracehook.Tracer
}

func (t *transcript) add(msg []byte) {
	if t.trace != nil {
		t.trace("handshake_message", append([]byte(nil), msg...))
	}
	if t.h == nil {
		t.pending = append(t.pending, msg)
		return
	}
	t.h.Write(msg)
}

// start fixes the hash. When hrr is set, the first pending message
// (ClientHello1) is replaced by message_hash (RFC 8446 4.4.1).
func (t *transcript) start(s *cipherSuite, hrr bool) {
	t.h = s.hash.New()
	for i, m := range t.pending {
		if i == 0 && hrr {
			h := s.hash.New()
			h.Write(m)
			t.h.Write(messageHash(h.Sum(nil)))
			continue
		}
		t.h.Write(m)
	}
	t.pending = nil
}

// clone returns an independent copy of the running hash.
func (t *transcript) clone() hash.Hash {
	c, err := t.h.(hash.Cloner).Clone()
	if err != nil {
		panic("tlspake: transcript hash cannot be cloned: " + err.Error())
	}
	return c
}

// pskBinder computes the binder of an external PSK over the transcript so
// far (nil: none, for ClientHello1) followed by the truncated ClientHello
// (RFC 8446 4.2.11.2).
func pskBinder(psk *PSK, prior hash.Hash, truncatedHello []byte) []byte {
	h := psk.hash()
	th := prior
	if th == nil {
		th = h.New()
	}
	th.Write(truncatedHello)
	early := earlySecret(h, psk.Secret)
	bk := binderKey(h, early)
	out := finishedVerifyData(h, bk, th)
	clear(early)
	clear(bk)
	return out
}

// readFinished reads the peer's Finished and checks it against the
// transcript so far, with the peer's handshake traffic secret. A PAKE-only
// flight has no Certificate, CertificateRequest or CertificateVerify
// (PROFILE.md section 3), so anything else is unexpected. A Finished that
// decrypts but does not verify is a decrypt_error, and, during a PAKE
// handshake, a code mismatch.
func (c *Conn) readFinished(h crypto.Hash, peerSecret []byte, t hash.Hash, peer string) ([]byte, error) {
	msg, err := c.readHandshake()
	if err != nil {
		return nil, err
	}
	if msg[0] != typeFinished {
		return nil, alertf(AlertUnexpectedMessage, "expected Finished, got handshake message %d", msg[0])
	}
	if !verifyFinished(msg[4:], finishedVerifyData(h, peerSecret, t)) {
		a := alertf(AlertDecryptError, "the %s's Finished did not verify", peer)
		if c.pakeInFlight {
			return nil, &codeMismatchError{a}
		}
		return nil, a
	}
	return msg, nil
}

// verifyFinished compares verify data in constant time.
func verifyFinished(got, want []byte) bool {
	return hmac.Equal(got, want)
}
