package tlspake

import (
	"errors"
	"fmt"
)

// Alert is a TLS alert description (RFC 8446 6).
type Alert uint8

// Alert descriptions this package sends or recognises.
const (
	AlertCloseNotify           Alert = 0
	AlertUnexpectedMessage     Alert = 10
	AlertBadRecordMAC          Alert = 20
	AlertRecordOverflow        Alert = 22
	AlertHandshakeFailure      Alert = 40
	AlertBadCertificate        Alert = 42
	AlertIllegalParameter      Alert = 47
	AlertAccessDenied          Alert = 49
	AlertDecodeError           Alert = 50
	AlertDecryptError          Alert = 51
	AlertProtocolVersion       Alert = 70
	AlertInsufficientSecurity  Alert = 71
	AlertInternalError         Alert = 80
	AlertUserCanceled          Alert = 90
	AlertMissingExtension      Alert = 109
	AlertUnsupportedExtension  Alert = 110
	AlertUnrecognizedName      Alert = 112
	AlertUnknownPSKIdentity    Alert = 115
	AlertNoApplicationProtocol Alert = 120
)

var alertNames = map[Alert]string{
	AlertCloseNotify:           "close_notify",
	AlertUnexpectedMessage:     "unexpected_message",
	AlertBadRecordMAC:          "bad_record_mac",
	AlertRecordOverflow:        "record_overflow",
	AlertHandshakeFailure:      "handshake_failure",
	AlertBadCertificate:        "bad_certificate",
	AlertIllegalParameter:      "illegal_parameter",
	AlertAccessDenied:          "access_denied",
	AlertDecodeError:           "decode_error",
	AlertDecryptError:          "decrypt_error",
	AlertProtocolVersion:       "protocol_version",
	AlertInsufficientSecurity:  "insufficient_security",
	AlertInternalError:         "internal_error",
	AlertUserCanceled:          "user_canceled",
	AlertMissingExtension:      "missing_extension",
	AlertUnsupportedExtension:  "unsupported_extension",
	AlertUnrecognizedName:      "unrecognized_name",
	AlertUnknownPSKIdentity:    "unknown_psk_identity",
	AlertNoApplicationProtocol: "no_application_protocol",
}

// String returns the alert's name as RFC 8446 spells it.
func (a Alert) String() string {
	if n, ok := alertNames[a]; ok {
		return n
	}
	return fmt.Sprintf("alert(%d)", uint8(a))
}

// AlertError is a fatal TLS alert: either one this side sent because the
// peer violated the protocol (Received false, with the reason), or one the
// peer sent (Received true).
type AlertError struct {
	Alert    Alert
	Received bool
	// Reason says what was wrong, for alerts this side sent.
	Reason string
}

// Error describes the alert and, for one this side sent, why.
func (e *AlertError) Error() string {
	if e.Received {
		return "tlspake: the peer sent alert " + e.Alert.String()
	}
	if e.Reason == "" {
		return "tlspake: sent alert " + e.Alert.String()
	}
	return "tlspake: " + e.Reason + " (sent alert " + e.Alert.String() + ")"
}

// ErrCodeMismatch is reported, on both sides, when the handshake failed
// because the peer does not know the same code: after a ServerHello that
// selected the pake extension, the peer's protected records could not be
// decrypted or its Finished did not verify. It cannot be told apart from
// interference by someone who lacks the code. Use errors.Is to test for it;
// the error also wraps the [*AlertError] involved.
var ErrCodeMismatch = errors.New("tlspake: the code did not match: the peer does not know the same code; check the code (for a device, the one on its label) and try again")

// codeMismatch wraps an alert error as a code mismatch.
type codeMismatchError struct{ alert *AlertError }

func (e *codeMismatchError) Error() string {
	return ErrCodeMismatch.Error() + " [" + e.alert.Error() + "]"
}

func (e *codeMismatchError) Unwrap() []error { return []error{ErrCodeMismatch, e.alert} }

// ErrNotPAKEPeer is reported by a client when the server does not speak
// the pake extension at all: it answered the ClientHello without pake (or
// with an older TLS version), refused it with an alert, or is not a TLS
// server. It usually means the address is not a tlspake device. Use
// errors.Is to test for it; the error also wraps the underlying cause.
var ErrNotPAKEPeer = errors.New("tlspake: the server does not speak the pake extension; it is probably not a tlspake device")

type notPAKEPeerError struct{ cause error }

func (e *notPAKEPeerError) Error() string {
	return ErrNotPAKEPeer.Error() + " [" + e.cause.Error() + "]"
}

func (e *notPAKEPeerError) Unwrap() []error { return []error{ErrNotPAKEPeer, e.cause} }

// ErrAttemptsRefused is reported by a client when the server refused to
// take a code attempt (access_denied): too many wrong codes recently, or
// its pairing window is closed. Trying again later may work.
var ErrAttemptsRefused = errors.New("tlspake: the server is refusing code attempts for now (too many wrong codes, or pairing is closed); try again in a while")

type refusedError struct{ cause error }

func (e *refusedError) Error() string {
	return ErrAttemptsRefused.Error() + " [" + e.cause.Error() + "]"
}

func (e *refusedError) Unwrap() []error { return []error{ErrAttemptsRefused, e.cause} }

// ErrPSKRejected is reported by a client whose offered pre-shared keys
// the server refused (unknown identity, or a binder that did not verify)
// when there was no code to fall back on. For a pairing it means the
// server no longer recognises this client: pair again with the code.
var ErrPSKRejected = errors.New("tlspake: the server rejected the pre-shared key (it does not recognise this client, or the key is wrong)")

type pskRejectedError struct{ cause error }

func (e *pskRejectedError) Error() string {
	return ErrPSKRejected.Error() + " [" + e.cause.Error() + "]"
}

func (e *pskRejectedError) Unwrap() []error { return []error{ErrPSKRejected, e.cause} }

// errHandshakeTimeout is returned when the handshake did not finish in time.
var errHandshakeTimeout = errors.New("tlspake: the handshake timed out")
