// Package tlspake implements TLS 1.3 (RFC 8446) authenticated with a
// password-authenticated key exchange carried in the `pake` extension
// (draft-ietf-tls-pake), using CPACE_X25519_SHA512, as the tlspake wire
// profile (PROFILE.md, version 1) specifies.
//
// A client and a server that share a short code (for example one printed on
// a device's label) authenticate each other inside one TLS 1.3 handshake,
// with no certificates: the CPace output is mixed into the handshake secret,
// so only a peer that knows the code can complete the handshake, and a
// passive or active attacker learns nothing that allows an offline guess.
//
// The API follows crypto/tls: [Client] and [Server] wrap a net.Conn, [Dial]
// and [Listen] create connections, and a [Conn] is a net.Conn once its
// handshake has completed. A wrong code is reported on both sides as an
// error that matches [ErrCodeMismatch].
package tlspake

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"io"
	"time"
)

// Wire constants. The experimental code points of PROFILE.md section 1 are
// each one named constant so they can change in one line once IANA
// assigns values.
const (
	// ExtensionPAKE is the ExtensionType of the `pake` extension
	// (experimental; the value BoringSSL uses for its SPAKE2+ experiment).
	ExtensionPAKE uint16 = 0x8a3b
	// PAKECPaceX25519SHA512 is the PAKEScheme CPACE_X25519_SHA512
	// (experimental).
	PAKECPaceX25519SHA512 PAKEScheme = 0x4350
	// PAKESPAKE2PlusV1 is the PAKEScheme SPAKE2PLUS_V1, reserved for a
	// later profile version and not implemented (experimental).
	PAKESPAKE2PlusV1 PAKEScheme = 0x7d96
)

// PAKEScheme identifies a PAKE protocol in the `pake` extension.
type PAKEScheme uint16

// String returns the scheme's name from draft-ietf-tls-pake.
func (s PAKEScheme) String() string {
	switch s {
	case PAKECPaceX25519SHA512:
		return "CPACE_X25519_SHA512"
	case PAKESPAKE2PlusV1:
		return "SPAKE2PLUS_V1"
	}
	return fmt.Sprintf("PAKEScheme(0x%04x)", uint16(s))
}

// VersionTLS13 is the only protocol version this package speaks.
const VersionTLS13 uint16 = 0x0304

// Cipher suites (RFC 8446 B.4).
const (
	TLS_AES_128_GCM_SHA256       uint16 = 0x1301
	TLS_AES_256_GCM_SHA384       uint16 = 0x1302
	TLS_CHACHA20_POLY1305_SHA256 uint16 = 0x1303
)

// CurveID is a TLS 1.3 NamedGroup.
type CurveID uint16

// Supported groups.
const (
	X25519 CurveID = 0x001d
	// X25519MLKEM768 is the hybrid post-quantum group of
	// draft-ietf-tls-ecdhe-mlkem.
	X25519MLKEM768 CurveID = 0x11ec
)

// String returns the group's IANA name.
func (c CurveID) String() string {
	switch c {
	case X25519:
		return "X25519"
	case X25519MLKEM768:
		return "X25519MLKEM768"
	}
	return fmt.Sprintf("CurveID(0x%04x)", uint16(c))
}

// pskModeDHE is psk_dhe_ke, the only PSK key exchange mode used.
const pskModeDHE uint8 = 1

// Record content types.
const (
	recordTypeChangeCipherSpec uint8 = 20
	recordTypeAlert            uint8 = 21
	recordTypeHandshake        uint8 = 22
	recordTypeApplicationData  uint8 = 23
)

// Handshake message types.
const (
	typeClientHello         uint8 = 1
	typeServerHello         uint8 = 2
	typeNewSessionTicket    uint8 = 4
	typeEndOfEarlyData      uint8 = 5
	typeEncryptedExtensions uint8 = 8
	typeCertificate         uint8 = 11
	typeCertificateRequest  uint8 = 13
	typeCertificateVerify   uint8 = 15
	typeFinished            uint8 = 20
	typeKeyUpdate           uint8 = 24
	typeMessageHash         uint8 = 254
)

// Extension types (RFC 8446 4.2).
const (
	extServerName          uint16 = 0
	extSupportedGroups     uint16 = 10
	extSignatureAlgorithms uint16 = 13
	extALPN                uint16 = 16
	extPadding             uint16 = 21
	extPreSharedKey        uint16 = 41
	extEarlyData           uint16 = 42
	extSupportedVersions   uint16 = 43
	extCookie              uint16 = 44
	extPSKModes            uint16 = 45
	extKeyShare            uint16 = 51
)

// Record size limits (RFC 8446 5.1, 5.2).
const (
	maxPlaintext       = 1 << 14
	maxCiphertext      = maxPlaintext + 256
	recordHeaderLen    = 5
	maxHandshakeLength = 1 << 16 // largest handshake message accepted
)

// helloRetryRequestRandom is the special ServerHello.random of a
// HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 4.1.3).
var helloRetryRequestRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
	0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// defaultHandshakeTimeout bounds a handshake when Config.HandshakeTimeout
// is zero.
const defaultHandshakeTimeout = 30 * time.Second

// Config configures a client or a server. A Config may be reused and must
// not be modified once it has been passed to a function of this package.
type Config struct {
	// Code is the password-related string (PRS) the client and server
	// share: for tlspake devices the printed code in canonical form. A
	// client requires it; a server uses it for every identity pair it
	// accepts when GetCode is nil.
	Code []byte

	// GetCode, on a server, returns the code for the identities a client
	// sent, for servers that hold several codes (a hub). It returns
	// ok == false for an unknown pair; the server then answers with a
	// simulated share, so that nothing reveals which identities it knows.
	// When GetCode is nil the server accepts any client identity together
	// with ServerIdentity, using Code.
	GetCode func(clientIdentity, serverIdentity []byte) (code []byte, ok bool)

	// ClientIdentity and ServerIdentity are the PAKE identities. A client
	// sends both; a server without GetCode only accepts ServerIdentity.
	// Either may be empty. They are bound into the CPace channel
	// identifier.
	ClientIdentity []byte
	ServerIdentity []byte

	// PSKs are the external pre-shared keys a client offers (RFC 8446
	// 4.2.11, psk_dhe_ke only), most preferred first. A client with PSKs
	// may leave Code empty; with both, the server chooses: a PSK it
	// recognises, else the code.
	PSKs []PSK

	// GetPSK, on a server, returns the external PSK for an identity a
	// client offered, or ok == false. The server takes the first offered
	// identity it recognises (never looking at the pake identities) and
	// verifies its binder before trusting anything else.
	GetPSK func(identity []byte) (psk PSK, ok bool)

	// Attempts, on a server, limits attempts to guess the code. Nil takes
	// every attempt.
	Attempts AttemptGate

	// CipherSuites lists the TLS 1.3 cipher suites to offer or accept, in
	// preference order. Nil means TLS_AES_128_GCM_SHA256,
	// TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384.
	CipherSuites []uint16

	// Groups lists the key exchange groups in preference order. Nil means
	// X25519MLKEM768 then X25519, and a client then sends key shares for
	// both (as browsers do); with Groups set, a client sends a key share
	// for the first group only. A server selects its most preferred group the client supports and
	// asks for a new key share with a HelloRetryRequest when needed. A
	// server on slow hardware may prefer X25519 (see the bench report for
	// the hybrid's cost).
	Groups []CurveID

	// NextProtos lists the ALPN protocols, in preference order.
	NextProtos []string

	// ServerName is the host name a client sends in server_name (SNI).
	// It is optional and independent of ServerIdentity.
	ServerName string

	// HandshakeTimeout bounds a whole handshake. Zero means 30 seconds;
	// negative means no limit beyond the context's and the connection's
	// own deadlines.
	HandshakeTimeout time.Duration

	// Rand is the source of randomness. Nil means crypto/rand.Reader.
	Rand io.Reader

	// Time returns the current time. Nil means time.Now. Nothing in the
	// PAKE handshake depends on the clock; the field is here for callers
	// that inject a clock into the attempt accounting built on this
	// package.
	Time func() time.Time
}

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

var defaultCipherSuites = []uint16{TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384}

func (c *Config) cipherSuites() []uint16 {
	if len(c.CipherSuites) > 0 {
		return c.CipherSuites
	}
	return defaultCipherSuites
}

var defaultGroups = []CurveID{X25519MLKEM768, X25519}

func (c *Config) groups() []CurveID {
	if len(c.Groups) > 0 {
		return c.Groups
	}
	return defaultGroups
}

func (c *Config) handshakeTimeout() time.Duration {
	if c.HandshakeTimeout == 0 {
		return defaultHandshakeTimeout
	}
	return c.HandshakeTimeout
}

// AttemptGate limits online guessing of the code on a server (PROFILE.md
// "Counting attempts"). Begin is called once per handshake, after the
// ClientHello has parsed and its structure was checked and before any PAKE
// work. For a code attempt, ok == false refuses it: the server answers
// access_denied. Otherwise the attempt counts as failed until done(true)
// is called, after the client's Finished has verified; done(false) is
// called on any failure. A handshake that ends without either (the process
// dies) must stay counted as failed, so implementations record the attempt
// in Begin. For a PSK attempt (info.PSK), ok is ignored: a pairing is not
// refused, but a PSK whose binder fails is reported through done(false).
type AttemptGate interface {
	Begin(info AttemptInfo) (done func(success bool), ok bool)
}

// AttemptInfo describes a handshake attempt for an AttemptGate.
type AttemptInfo struct {
	// RemoteAddr is the client's address.
	RemoteAddr string
	// PSK is true for an attempt with a pre-shared key (a pairing).
	PSK bool
}

// PSK is an external pre-shared key.
type PSK struct {
	// Identity is the PSK identity sent in the clear.
	Identity []byte
	// Secret is the key itself.
	Secret []byte
	// Hash is the PSK's hash, crypto.SHA256 or crypto.SHA384; zero means
	// SHA-256. Only cipher suites with this hash can use the PSK.
	Hash crypto.Hash
}

func (p *PSK) hash() crypto.Hash {
	if p.Hash == 0 {
		return crypto.SHA256
	}
	return p.Hash
}

// AuthMode says how a connection was authenticated.
type AuthMode int

const (
	// AuthPAKE: the code, through the pake extension.
	AuthPAKE AuthMode = iota + 1
	// AuthPSK: an external pre-shared key (for example a pairing).
	AuthPSK
)

// String returns "PAKE", "PSK" or "none".
func (m AuthMode) String() string {
	switch m {
	case AuthPAKE:
		return "PAKE"
	case AuthPSK:
		return "PSK"
	}
	return "none"
}

// ConnectionState describes a connection after its handshake.
type ConnectionState struct {
	// Version is the protocol version, always VersionTLS13 once complete.
	Version uint16
	// HandshakeComplete is true once the handshake has completed.
	HandshakeComplete bool
	// CipherSuite is the negotiated cipher suite.
	CipherSuite uint16
	// Group is the key exchange group.
	Group CurveID
	// Auth is how the connection was authenticated.
	Auth AuthMode
	// PAKEScheme is the PAKE that authenticated the connection, when
	// Auth is AuthPAKE.
	PAKEScheme PAKEScheme
	// PSKIdentity is the identity of the PSK, when Auth is AuthPSK.
	PSKIdentity []byte
	// ClientIdentity and ServerIdentity are the PAKE identities.
	ClientIdentity []byte
	ServerIdentity []byte
	// NegotiatedProtocol is the ALPN protocol, or "".
	NegotiatedProtocol string
	// ServerName is the SNI host name the client sent, or "".
	ServerName string
	// DidHelloRetryRequest is true when the server asked for a new key
	// share.
	DidHelloRetryRequest bool
}

// CipherSuiteName returns the standard name of a TLS 1.3 cipher suite.
func CipherSuiteName(id uint16) string {
	if s := cipherSuiteByID(id); s != nil {
		return s.name
	}
	return fmt.Sprintf("0x%04X", id)
}
