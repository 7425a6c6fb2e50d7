package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"

	"github.com/tlspake/pake/tlspake"
)

// This file reads TLS 1.3 structures for the handshake vectors: it splits
// byte streams into records, decrypts records with known keys, and breaks
// handshake messages into named fields so that a difference can be named.
// It is independent of the tlspake package, so it cross-checks what the
// implementation traced.

// Record content types.
const (
	ctChangeCipherSpec = 20
	ctAlert            = 21
	ctHandshake        = 22
	ctApplicationData  = 23
)

func contentTypeName(t byte) string {
	switch t {
	case ctChangeCipherSpec:
		return "change_cipher_spec"
	case ctAlert:
		return "alert"
	case ctHandshake:
		return "handshake"
	case ctApplicationData:
		return "application_data"
	}
	return fmt.Sprintf("content_type(%d)", t)
}

// splitRecords splits b into complete records and returns the rest.
func splitRecords(b []byte) (records [][]byte, rest []byte) {
	for len(b) >= 5 {
		n := 5 + int(binary.BigEndian.Uint16(b[3:5]))
		if len(b) < n {
			break
		}
		records = append(records, b[:n:n])
		b = b[n:]
	}
	return records, b
}

// newAEAD returns the record AEAD of a cipher suite.
func newAEAD(suite uint16, key []byte) (cipher.AEAD, error) {
	switch suite {
	case tlspake.TLS_AES_128_GCM_SHA256, tlspake.TLS_AES_256_GCM_SHA384:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	case tlspake.TLS_CHACHA20_POLY1305_SHA256:
		return chacha20poly1305.New(key)
	}
	return nil, fmt.Errorf("unknown cipher suite 0x%04x", suite)
}

// openRecord decrypts a protected record (RFC 8446 5.2) and returns the
// inner content type and content, padding removed.
func openRecord(suite uint16, key, iv []byte, seq uint64, rec []byte) (byte, []byte, error) {
	if len(rec) < 5 || rec[0] != ctApplicationData {
		return 0, nil, errors.New("not a protected record (outer type is not application_data)")
	}
	aead, err := newAEAD(suite, key)
	if err != nil {
		return 0, nil, err
	}
	if len(iv) != aead.NonceSize() {
		return 0, nil, fmt.Errorf("IV of %d bytes", len(iv))
	}
	nonce := make([]byte, len(iv))
	copy(nonce, iv)
	for i := range 8 {
		nonce[len(nonce)-1-i] ^= byte(seq >> (8 * i))
	}
	pt, err := aead.Open(nil, nonce, rec[5:], rec[:5])
	if err != nil {
		return 0, nil, err
	}
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, errors.New("inner plaintext has no content type")
	}
	return pt[i], pt[:i], nil
}

// hrrRandom is the ServerHello.random of a HelloRetryRequest.
var hrrRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// messageTypeName names a handshake message (with its 4-byte header).
func messageTypeName(msg []byte) string {
	if len(msg) == 0 {
		return "empty handshake message"
	}
	switch msg[0] {
	case 1:
		return "ClientHello"
	case 2:
		if len(msg) >= 38 && string(msg[6:38]) == string(hrrRandom) {
			return "HelloRetryRequest"
		}
		return "ServerHello"
	case 4:
		return "NewSessionTicket"
	case 8:
		return "EncryptedExtensions"
	case 11:
		return "Certificate"
	case 13:
		return "CertificateRequest"
	case 15:
		return "CertificateVerify"
	case 20:
		return "Finished"
	case 24:
		return "KeyUpdate"
	}
	return fmt.Sprintf("handshake_type(%d)", msg[0])
}

// splitMessages splits handshake bytes into complete messages and returns
// the rest.
func splitMessages(b []byte) (msgs [][]byte, rest []byte) {
	for len(b) >= 4 {
		n := 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3]))
		if len(b) < n {
			break
		}
		msgs = append(msgs, b[:n:n])
		b = b[n:]
	}
	return msgs, b
}

var alertDescriptions = map[byte]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
	40: "handshake_failure", 42: "bad_certificate", 47: "illegal_parameter", 49: "access_denied",
	50: "decode_error", 51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
	80: "internal_error", 90: "user_canceled", 109: "missing_extension", 110: "unsupported_extension",
	112: "unrecognized_name", 115: "unknown_psk_identity", 120: "no_application_protocol",
}

func alertName(desc byte) string {
	if n, ok := alertDescriptions[desc]; ok {
		return n
	}
	return fmt.Sprintf("alert(%d)", desc)
}

var extensionNames = map[uint16]string{
	0: "server_name", 10: "supported_groups", 13: "signature_algorithms", 16: "application_layer_protocol_negotiation",
	21: "padding", 41: "pre_shared_key", 42: "early_data", 43: "supported_versions", 44: "cookie",
	45: "psk_key_exchange_modes", 51: "key_share", tlspake.ExtensionPAKE: "pake",
}

func extensionName(t uint16) string {
	if n, ok := extensionNames[t]; ok {
		return n
	}
	return fmt.Sprintf("extension_%d", t)
}

func groupName(g uint16) string { return tlspake.CurveID(g).String() }

// field is one named part of a handshake message.
type field struct {
	name  string
	value []byte
}

// messageFields breaks a handshake message into named fields, the most
// specific first, ending with the whole message. It never fails: what
// does not parse is reported as one field.
func messageFields(msg []byte) []field {
	name := messageTypeName(msg)
	var fs []field
	add := func(n string, v []byte) { fs = append(fs, field{name + "." + n, v}) }
	if len(msg) < 4 {
		return []field{{name, msg}}
	}
	body := cryptobyte.String(msg[4:])
	switch msg[0] {
	case 1, 2:
		var vers uint16
		var random, sid, suites, comp []byte
		var suite uint16
		var compByte uint8
		ok := body.ReadUint16(&vers) && body.ReadBytes(&random, 32) && body.ReadUint8LengthPrefixed((*cryptobyte.String)(&sid))
		if msg[0] == 1 {
			ok = ok && body.ReadUint16LengthPrefixed((*cryptobyte.String)(&suites)) && body.ReadUint8LengthPrefixed((*cryptobyte.String)(&comp))
		} else {
			ok = ok && body.ReadUint16(&suite) && body.ReadUint8(&compByte)
		}
		if !ok {
			add("body", msg[4:])
			break
		}
		add("legacy_version", u16(vers))
		add("random", random)
		add("legacy_session_id", sid)
		if msg[0] == 1 {
			add("cipher_suites", suites)
			add("legacy_compression_methods", comp)
		} else {
			add("cipher_suite", u16(suite))
			add("legacy_compression_method", []byte{compByte})
		}
		fs = append(fs, extensionFields(name, msg[0], &body)...)
		if !body.Empty() {
			add("trailing bytes", body)
		}
	case 8:
		fs = append(fs, extensionFields(name, msg[0], &body)...)
		if !body.Empty() {
			add("trailing bytes", body)
		}
	case 20:
		add("verify_data", msg[4:])
	case 24:
		add("request_update", msg[4:])
	}
	return append(fs, field{name, msg})
}

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

// extensionFields reads an extensions block and breaks the extensions
// this profile uses into sub-fields.
func extensionFields(msgName string, msgType byte, body *cryptobyte.String) []field {
	var exts cryptobyte.String
	if body.Empty() {
		return nil
	}
	if !body.ReadUint16LengthPrefixed(&exts) {
		return []field{{msgName + ".extensions", *body}}
	}
	var fs []field
	var types []byte
	for !exts.Empty() {
		var t uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&t) || !exts.ReadUint16LengthPrefixed(&data) {
			fs = append(fs, field{msgName + ".extensions (malformed)", exts})
			break
		}
		types = append(types, u16(t)...)
		prefix := msgName + "." + extensionName(t)
		switch t {
		case 51: // key_share
			fs = append(fs, keyShareFields(prefix, msgType, data)...)
		case tlspake.ExtensionPAKE:
			fs = append(fs, pakeFields(prefix, msgType, data)...)
		case 41: // pre_shared_key
			if msgType == 1 {
				fs = append(fs, pskFields(prefix, data)...)
			}
		}
		fs = append(fs, field{prefix, data})
	}
	// The list of extension types, so that a missing or extra extension is
	// named before the fields that follow it shift.
	return append([]field{{msgName + ".extension types", types}}, fs...)
}

func keyShareFields(prefix string, msgType byte, data cryptobyte.String) []field {
	var fs []field
	switch msgType {
	case 1:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) {
			return nil
		}
		for !list.Empty() {
			var g uint16
			var ke []byte
			if !list.ReadUint16(&g) || !list.ReadUint16LengthPrefixed((*cryptobyte.String)(&ke)) {
				return fs
			}
			fs = append(fs, field{prefix + " " + groupName(g), ke})
		}
	case 2:
		var g uint16
		if !data.ReadUint16(&g) {
			return nil
		}
		if len(data) == 0 { // HelloRetryRequest: selected_group
			return []field{{prefix + ".selected_group", u16(g)}}
		}
		var ke []byte
		if data.ReadUint16LengthPrefixed((*cryptobyte.String)(&ke)) {
			fs = append(fs, field{prefix + " " + groupName(g), ke})
		}
	}
	return fs
}

func pakeFields(prefix string, msgType byte, data cryptobyte.String) []field {
	var fs []field
	readShare := func(s *cryptobyte.String) bool {
		var scheme uint16
		var m []byte
		if !s.ReadUint16(&scheme) || !s.ReadUint16LengthPrefixed((*cryptobyte.String)(&m)) {
			return false
		}
		fs = append(fs, field{prefix + " " + tlspake.PAKEScheme(scheme).String() + " pake_message", m})
		return true
	}
	if msgType == 1 {
		var cid, sid []byte
		var shares cryptobyte.String
		if !data.ReadUint16LengthPrefixed((*cryptobyte.String)(&cid)) || !data.ReadUint16LengthPrefixed((*cryptobyte.String)(&sid)) ||
			!data.ReadUint16LengthPrefixed(&shares) {
			return nil
		}
		fs = append(fs, field{prefix + ".client_identity", cid}, field{prefix + ".server_identity", sid})
		for !shares.Empty() && readShare(&shares) {
		}
		return fs
	}
	readShare(&data)
	return fs
}

func pskFields(prefix string, data cryptobyte.String) []field {
	var ids, binders cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&ids) || !data.ReadUint16LengthPrefixed(&binders) {
		return nil
	}
	var fs []field
	for i := 0; !ids.Empty(); i++ {
		var id []byte
		var age uint32
		if !ids.ReadUint16LengthPrefixed((*cryptobyte.String)(&id)) || !ids.ReadUint32(&age) {
			return fs
		}
		fs = append(fs, field{fmt.Sprintf("%s.identities[%d].identity", prefix, i), id})
	}
	for i := 0; !binders.Empty(); i++ {
		var b []byte
		if !binders.ReadUint8LengthPrefixed((*cryptobyte.String)(&b)) {
			return fs
		}
		fs = append(fs, field{fmt.Sprintf("%s.binders[%d]", prefix, i), b})
	}
	return fs
}

// fieldValue returns the value of the named field of msg, or nil.
func fieldValue(msg []byte, name string) []byte {
	for _, f := range messageFields(msg) {
		if f.name == name {
			return f.value
		}
	}
	return nil
}

// diffMessages names the first field in which got differs from want.
func diffMessages(want, got []byte) string {
	wf, gf := messageFields(want), messageFields(got)
	if messageTypeName(want) != messageTypeName(got) {
		return fmt.Sprintf("expected a %s, received a %s: %x", messageTypeName(want), messageTypeName(got), got)
	}
	gm := map[string][]byte{}
	for _, f := range gf {
		gm[f.name] = f.value
	}
	for _, f := range wf {
		g, ok := gm[f.name]
		if !ok {
			return fmt.Sprintf("%s is missing: expected %x", f.name, f.value)
		}
		if string(g) != string(f.value) {
			return fmt.Sprintf("%s differs: expected %x received %x", f.name, f.value, g)
		}
	}
	wm := map[string]bool{}
	for _, f := range wf {
		wm[f.name] = true
	}
	for _, f := range gf {
		if !wm[f.name] {
			return fmt.Sprintf("%s was not expected: received %x", f.name, f.value)
		}
	}
	return fmt.Sprintf("%s differs: expected %x received %x", messageTypeName(want), want, got)
}

// recordSummary describes a record's decrypted content, given the
// handshake messages it completes.
func recordSummary(ct byte, content []byte, msgs []string, partial bool) string {
	switch ct {
	case ctHandshake:
		s := strings.Join(msgs, ", ")
		if partial {
			if s != "" {
				s += ", "
			}
			s += "part of a handshake message"
		}
		return s
	case ctAlert:
		if len(content) == 2 {
			level := "warning"
			if content[0] == 2 {
				level = "fatal"
			}
			return "alert " + level + " " + alertName(content[1])
		}
		return "malformed alert"
	case ctApplicationData:
		return fmt.Sprintf("application data, %d bytes", len(content))
	case ctChangeCipherSpec:
		return "change_cipher_spec"
	}
	return contentTypeName(ct)
}

// keyUpdateName describes a KeyUpdate message.
func keyUpdateName(msg []byte) string {
	if len(msg) == 5 {
		switch msg[4] {
		case 0:
			return "KeyUpdate update_not_requested"
		case 1:
			return "KeyUpdate update_requested"
		}
	}
	return "KeyUpdate (malformed)"
}
