package negative

// The cases of the negative vector files. Each case changes one thing in
// an otherwise valid flight (the generator checks that the unchanged
// flight is accepted); its comment cites the rule it breaks.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
)

const (
	maxPlaintext  = 1 << 14
	maxCiphertext = maxPlaintext + 256
)

// certificateEmpty is a Certificate message with an empty context and an
// empty certificate list.
var certificateEmpty = []byte{hsCertificate, 0, 0, 4, 0, 0, 0, 0}

// encryptedExtensions returns an EncryptedExtensions message carrying e.
func encryptedExtensions(e exts) []byte {
	return handshake(hsEncryptedExtensions, u16prefixed(e.marshal()))
}

func zeros(n int) []byte { return make([]byte, n) }

// Offsets in the body of rawClient.hello() (empty legacy_session_id,
// three cipher suites, one compression method).
const (
	offSessionID  = 2 + 32
	offSuites     = offSessionID + 1
	offComp       = offSuites + 2 + 6
	offExtensions = offComp + 2
)

func genClientHelloFile() *fileBuilder {
	f := newFileBuilder("clienthello.json",
		"Bytes a client sends to our server. Each case breaks one rule in the first flight (a ClientHello, its extensions or the records "+
			"carrying it), in a second ClientHello after a HelloRetryRequest, or in the client's protected flight after our server's "+
			"flight: the rows of PROFILE.md's alert table, RFC 8446's rules, and the low-order points of draft-irtf-cfrg-cpace-21 on the "+
			"real and the simulated (unknown identity) path.",
		baseConfig())
	c := newRawClient()
	srv := func(id, comment string, input []byte, want negativeExpected, opts ...caseOpt) {
		f.add("server", id, comment, input, want, opts...)
	}
	edit := func(mut func(h *clientHello)) []byte {
		h := c.hello()
		mut(&h)
		return firstRecord(h.message())
	}
	setExt := func(typ uint16, body []byte) []byte {
		return edit(func(h *clientHello) { h.exts = h.exts.with(typ, body) })
	}
	dropExt := func(typ uint16) []byte {
		return edit(func(h *clientHello) { h.exts = h.exts.without(typ) })
	}
	setPAKE := func(cid, sid []byte, shares ...pakeShare) []byte {
		return setExt(extPAKE, pakeClientHello(cid, sid, shares...))
	}
	// body edits the ClientHello body as bytes; the handshake and record
	// lengths are set to fit.
	body := func(mut func(b []byte) []byte) []byte {
		return firstRecord(handshake(hsClientHello, mut(c.hello().body())))
	}
	basePAKE := c.hello().exts.get(extPAKE)
	cpaceShare := pakeShare{schemeCPace, c.ya}

	// PROFILE.md, Alerts.
	srv("pake-without-key-share", "pake without key_share (PROFILE.md Alerts; draft-ietf-tls-pake, Server Behavior)",
		dropExt(extKeyShare), alert("missing_extension"))
	srv("pake-without-supported-groups", "pake without supported_groups (PROFILE.md Alerts; draft-ietf-tls-pake, Server Behavior)",
		dropExt(extSupportedGroups), alert("missing_extension"))
	srv("pake-client-hello-truncated", "PAKEClientHello one byte short (PROFILE.md Alerts: does not parse)",
		setExt(extPAKE, basePAKE[:len(basePAKE)-1]), alert("decode_error"))
	srv("pake-client-hello-trailing-byte", "PAKEClientHello followed by one byte (PROFILE.md section 1: trailing bytes are a decode error)",
		setExt(extPAKE, append(append([]byte(nil), basePAKE...), 0)), alert("decode_error"))
	srv("pake-client-hello-empty", "pake extension with an empty body",
		setExt(extPAKE, nil), alert("decode_error"))
	srv("pake-client-identity-length-overrun", "client_identity length 0xffff, longer than the extension",
		setExt(extPAKE, append([]byte{0xff, 0xff}, basePAKE[2:]...)), alert("decode_error"))
	srv("pake-share-empty-message", "PAKEShare with an empty pake_message (opaque pake_message<1..2^16-1>)",
		setPAKE(genClientID, genServerID, pakeShare{schemeCPace, nil}), alert("decode_error"))
	srv("pake-share-31-bytes", "CPace share of 31 bytes (PROFILE.md section 2: a share whose length is not 32 is a decode_error)",
		setPAKE(genClientID, genServerID, pakeShare{schemeCPace, c.ya[:31]}), alert("decode_error"))
	srv("pake-share-33-bytes", "CPace share of 33 bytes (PROFILE.md section 2)",
		setPAKE(genClientID, genServerID, pakeShare{schemeCPace, append(append([]byte(nil), c.ya...), 0)}), alert("decode_error"))
	srv("pake-shares-unsorted", "SPAKE2PLUS_V1 (0x7d96) before CPACE_X25519_SHA512 (0x4350): not sorted (PROFILE.md Alerts)",
		setPAKE(genClientID, genServerID, pakeShare{schemeSPAKE2PP, zeros(33)}, cpaceShare), alert("illegal_parameter"))
	srv("pake-shares-duplicated", "two CPACE_X25519_SHA512 shares (PROFILE.md Alerts)",
		setPAKE(genClientID, genServerID, cpaceShare, cpaceShare), alert("illegal_parameter"))
	srv("pake-no-scheme-in-common", "only SPAKE2PLUS_V1 offered (PROFILE.md Alerts: no scheme in common)",
		setPAKE(genClientID, genServerID, pakeShare{schemeSPAKE2PP, zeros(33)}), alert("illegal_parameter"))
	srv("pake-no-shares", "an empty client_shares list: no scheme in common",
		setPAKE(genClientID, genServerID), alert("illegal_parameter"))
	for _, p := range lowOrderPoints {
		srv("pake-low-order-"+p.name, "Ya is the low-order point "+p.name+" of draft-irtf-cfrg-cpace-21: K is the neutral element (PROFILE.md Alerts)",
			setPAKE(genClientID, genServerID, pakeShare{schemeCPace, unhex(p.hex)}), alert("illegal_parameter"))
	}
	for _, p := range lowOrderPoints {
		srv("pake-low-order-"+p.name+"-simulated", "Ya is the low-order point "+p.name+" and the server_identity is unknown: the simulated path checks the share as the real one does (PROFILE.md Unknown identities)",
			setPAKE(genClientID, []byte("unknown-device"), pakeShare{schemeCPace, unhex(p.hex)}), alert("illegal_parameter"))
	}
	srv("neither-pake-nor-psk", "no pake and no pre_shared_key: nothing to authenticate with (RFC 8446 9.2)",
		dropExt(extPAKE), alert("missing_extension"))

	// Structure (RFC 8446 4.1.2; decode_error: RFC 8446 6.2).
	for _, t := range []struct {
		id, comment string
		n           int
	}{
		{"client-hello-truncated-in-random", "ClientHello cut 10 bytes into random (lengths fixed to fit)", 2 + 10},
		{"client-hello-truncated-after-random", "ClientHello cut after random, before legacy_session_id", offSessionID},
		{"client-hello-truncated-in-cipher-suites", "ClientHello cut in the middle of cipher_suites", offSuites + 2 + 3},
		{"client-hello-truncated-after-cipher-suites", "ClientHello cut after cipher_suites, before legacy_compression_methods", offComp},
		{"client-hello-truncated-in-extensions", "ClientHello cut 6 bytes into the extensions block", offExtensions + 6},
	} {
		srv(t.id, t.comment, body(func(b []byte) []byte { return b[:t.n] }), alert("decode_error"))
	}
	srv("client-hello-truncated-last-byte", "ClientHello without its last byte (lengths fixed to fit): the last extension is cut",
		body(func(b []byte) []byte { return b[:len(b)-1] }), alert("decode_error"))
	addToLength := func(b []byte, off, d int) []byte {
		binary.BigEndian.PutUint16(b[off:], uint16(int(binary.BigEndian.Uint16(b[off:]))+d))
		return b
	}
	srv("extensions-length-overrun", "the extensions block length is one more than the bytes that follow",
		body(func(b []byte) []byte { return addToLength(b, offExtensions, 1) }), alert("decode_error"))
	srv("extensions-length-short", "the extensions block length is one less than the bytes that follow",
		body(func(b []byte) []byte { return addToLength(b, offExtensions, -1) }), alert("decode_error"))
	srv("extension-length-overrun", "the first extension's length is 0xffff, past the end of the block",
		body(func(b []byte) []byte { b[offExtensions+4], b[offExtensions+5] = 0xff, 0xff; return b }), alert("decode_error"))
	srv("client-hello-trailing-byte", "one byte after the extensions block",
		body(func(b []byte) []byte { return append(b, 0) }), alert("decode_error"))
	srv("legacy-session-id-33-bytes", "legacy_session_id of 33 bytes (opaque legacy_session_id<0..32>)",
		edit(func(h *clientHello) { h.sessionID = zeros(33) }), alert("decode_error"))
	srv("cipher-suites-empty", "empty cipher_suites (CipherSuite cipher_suites<2..2^16-2>)",
		edit(func(h *clientHello) { h.suites = nil }), alert("decode_error"))
	srv("cipher-suites-odd-length", "cipher_suites of 7 bytes",
		body(func(b []byte) []byte {
			out := append([]byte(nil), b[:offSuites]...)
			out = append(out, 0, 7)
			out = append(out, b[offSuites+2:offComp]...)
			out = append(out, 0x13)
			return append(out, b[offComp:]...)
		}), alert("decode_error"))
	srv("compression-methods-empty", "empty legacy_compression_methods (opaque legacy_compression_methods<1..2^8-1>)",
		edit(func(h *clientHello) { h.comp = nil }), alert("decode_error"))
	srv("supported-versions-empty", "supported_versions with an empty list (ProtocolVersion versions<2..254>)",
		setExt(extSupportedVersions, supportedVersions()), alert("decode_error"))
	srv("supported-groups-empty", "supported_groups with an empty list (NamedGroup named_group_list<2..2^16-1>)",
		setExt(extSupportedGroups, u16list()), alert("decode_error"))
	srv("key-share-empty-key-exchange", "a KeyShareEntry with an empty key_exchange (opaque key_exchange<1..2^16-1>)",
		setExt(extKeyShare, keyShareList(keyShare{groupX25519, nil})), alert("decode_error"))
	srv("no-extensions", "a ClientHello without extensions (TLS 1.2 syntax): no supported_versions, so not TLS 1.3 (RFC 8446 4.2.1)",
		edit(func(h *clientHello) { h.noExts = true }), alert("protocol_version"))

	// RFC 8446 rules.
	srv("compression-method-1", "legacy_compression_methods [1] (RFC 8446 4.1.2: illegal_parameter)",
		edit(func(h *clientHello) { h.comp = []byte{1} }), alert("illegal_parameter"))
	srv("compression-methods-null-and-1", "legacy_compression_methods [0, 1] (RFC 8446 4.1.2: exactly one byte, null)",
		edit(func(h *clientHello) { h.comp = []byte{0, 1} }), alert("illegal_parameter"))
	srv("duplicate-supported-groups", "supported_groups twice (RFC 8446 4.2: at most one extension of a type)",
		edit(func(h *clientHello) { h.exts = append(h.exts.clone(), h.exts[h.exts.index(extSupportedGroups)]) }), alert("illegal_parameter"))
	srv("duplicate-pake", "pake twice (RFC 8446 4.2)",
		edit(func(h *clientHello) { h.exts = append(h.exts.clone(), h.exts[h.exts.index(extPAKE)]) }), alert("illegal_parameter"))
	srv("duplicate-unknown-extension", "an unknown extension (0x0a0a) twice (RFC 8446 4.2)",
		edit(func(h *clientHello) { h.exts = append(h.exts.clone(), ext{0x0a0a, nil}, ext{0x0a0a, nil}) }), alert("illegal_parameter"))
	srv("no-supported-versions", "no supported_versions: a TLS 1.2 ClientHello (RFC 8446 4.2.1, D.2)",
		dropExt(extSupportedVersions), alert("protocol_version"))
	srv("supported-versions-tls12-only", "supported_versions [TLS 1.2, TLS 1.1]: a downgrade (RFC 8446 4.2.1)",
		setExt(extSupportedVersions, supportedVersions(0x0303, 0x0302)), alert("protocol_version"))
	srv("legacy-version-ssl3", "legacy_version 0x0300 (RFC 8446 D.5: SSL 3.0 must be refused)",
		edit(func(h *clientHello) { h.vers = 0x0300 }), alert("protocol_version"))
	srv("no-cipher-suite-in-common", "cipher_suites [TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_CCM_SHA256] (RFC 8446 4.1.1)",
		edit(func(h *clientHello) { h.suites = []uint16{0x009c, 0x1304} }), alert("handshake_failure"))
	srv("no-group-in-common", "supported_groups [secp256r1] with a secp256r1 share (RFC 8446 4.1.1)",
		edit(func(h *clientHello) {
			h.exts = h.exts.with(extSupportedGroups, u16list(groupSecp256r1)).
				with(extKeyShare, keyShareList(keyShare{groupSecp256r1, append([]byte{4}, zeros(64)...)}))
		}), alert("handshake_failure"))
	srv("key-share-group-not-in-supported-groups", "an X25519 share while supported_groups lists only X25519MLKEM768 (RFC 8446 4.2.8)",
		setExt(extSupportedGroups, u16list(groupX25519MLKEM768)), alert("illegal_parameter"))
	srv("two-key-shares-same-group", "two X25519 shares (RFC 8446 4.2.8)",
		setExt(extKeyShare, keyShareList(keyShare{groupX25519, c.priv.PublicKey().Bytes()}, keyShare{groupX25519, c.priv.PublicKey().Bytes()})),
		alert("illegal_parameter"))
	srv("x25519-share-31-bytes", "an X25519 key share of 31 bytes (RFC 8446 4.2.8.2)",
		setExt(extKeyShare, keyShareList(keyShare{groupX25519, c.priv.PublicKey().Bytes()[:31]})), alert("illegal_parameter"))
	srv("x25519-share-all-zero", "the X25519 key share is the all-zero point (RFC 8446 7.4.2, RFC 7748 6.1)",
		setExt(extKeyShare, keyShareList(keyShare{groupX25519, zeros(32)})), alert("illegal_parameter"))
	srv("first-message-not-client-hello", "a Finished instead of the ClientHello (RFC 8446 6.2: unexpected_message)",
		firstRecord(handshake(hsFinished, zeros(32))), alert("unexpected_message"))
	srv("client-hello-and-next-message-in-one-record", "the ClientHello and the start of another message in one record: a message may not span the key change (RFC 8446 5.1); the alert is sent before any key change",
		firstRecord(concat(c.hello().message(), []byte{hsFinished, 0, 0})), alert("unexpected_message"))

	// Records before any keys (RFC 8446 5).
	srv("empty-handshake-record", "a handshake record of length 0 (RFC 8446 5.1)",
		firstRecord(nil), alert("unexpected_message"))
	srv("application-data-first", "an application_data record before the handshake (RFC 8446 5)",
		record(recAppData, tls12, []byte("hello")), alert("unexpected_message"))
	srv("change-cipher-spec-first", "a change_cipher_spec before the ClientHello (RFC 8446 5: only after the first ClientHello)",
		record(recCCS, tls12, []byte{1}), alert("unexpected_message"))
	srv("plaintext-record-overflow", "the ClientHello record padded to 2^14+1 bytes (RFC 8446 5.1: record_overflow)",
		firstRecord(append(c.hello().message(), zeros(maxPlaintext+1-len(c.hello().message()))...)), alert("record_overflow"))
	srv("record-header-claims-65535", "a record header claiming 65535 bytes, and nothing more (RFC 8446 5.1)",
		[]byte{recHandshake, 3, 1, 0xff, 0xff}, alert("record_overflow"))
	srv("not-tls", "an HTTP request instead of TLS",
		[]byte("GET / HTTP/1.1\r\nHost: device\r\n\r\n"), alert("unexpected_message"))
	srv("malformed-alert", "an alert record of 3 bytes before the ClientHello (RFC 8446 6: an alert is 2 bytes)",
		record(recAlert, tls12, []byte{2, 40, 0}), alert("decode_error"))
	srv("fatal-alert-first", "the client sends a fatal handshake_failure instead of a ClientHello: our server reports it and sends nothing",
		record(recAlert, tls12, []byte{2, 40}), negativeExpected{Received: "handshake_failure"})
	srv("record-cut-short", "the ClientHello record is cut short and the connection ends: no alert is possible",
		firstRecord(c.hello().message())[:40], negativeExpected{Error: "unexpected_eof"})
	srv("handshake-message-cut-short", "a complete record holding the first 40 bytes of the ClientHello (whose header claims more), then the connection ends",
		firstRecord(c.hello().message()[:40]), negativeExpected{Error: "unexpected_eof"})

	// A second ClientHello after a HelloRetryRequest (RFC 8446 4.1.2, 4.1.4;
	// PROFILE.md section 3). The first ClientHello has an empty key_share
	// list, so our server asks for an X25519 share.
	ch1h := c.hello()
	ch1h.exts = ch1h.exts.with(extKeyShare, keyShareList())
	ch1 := ch1h.message()
	hrr := captureHRR(f.setup, ch1, func([]byte) []byte { return c.hello().message() })
	ch1Rec := firstRecord(ch1)
	second := func(id, comment string, rest []byte, want negativeExpected, opts ...caseOpt) {
		srv(id, comment, concat(ch1Rec, rest), want, append([]caseOpt{interim(len(ch1Rec), hrr)}, opts...)...)
	}
	ch2 := func(mut func(h *clientHello)) []byte {
		h := c.hello()
		mut(&h)
		return hsRecord(h.message())
	}
	other := newRawClient()
	other.yaSeed = detBytes("raw client other ya", 32)
	otherYa := other.initiator().Message()
	second("hrr-second-client-hello-pake-identity-changed", "the second ClientHello's pake has another client_identity (PROFILE.md Alerts, section 3: repeated byte for byte)",
		ch2(func(h *clientHello) {
			h.exts = h.exts.with(extPAKE, pakeClientHello([]byte("mallory"), genServerID, cpaceShare))
		}), alert("illegal_parameter"))
	second("hrr-second-client-hello-pake-new-share", "the second ClientHello's pake has a new Ya (PROFILE.md section 3: same Ya)",
		ch2(func(h *clientHello) {
			h.exts = h.exts.with(extPAKE, pakeClientHello(genClientID, genServerID, pakeShare{schemeCPace, otherYa}))
		}), alert("illegal_parameter"))
	second("hrr-second-client-hello-pake-extra-share", "the second ClientHello's pake adds a SPAKE2PLUS_V1 share (PROFILE.md Alerts)",
		ch2(func(h *clientHello) {
			h.exts = h.exts.with(extPAKE, pakeClientHello(genClientID, genServerID, cpaceShare, pakeShare{schemeSPAKE2PP, zeros(33)}))
		}), alert("illegal_parameter"))
	second("hrr-second-client-hello-pake-dropped", "the second ClientHello has no pake (and no pre_shared_key)",
		ch2(func(h *clientHello) { h.exts = h.exts.without(extPAKE) }), alert("missing_extension"))
	second("hrr-second-client-hello-random-changed", "the second ClientHello has another random (PROFILE.md section 3; RFC 8446 4.1.2)",
		ch2(func(h *clientHello) { h.random = detBytes("other random", 32) }), alert("illegal_parameter"))
	second("hrr-second-client-hello-no-key-share", "the second ClientHello still has no X25519 share (RFC 8446 4.1.2: replace key_share with one share for the selected group)",
		hsRecord(ch1), alert("illegal_parameter"))
	second("hrr-second-client-hello-cipher-suites-changed", "the second ClientHello offers only TLS_AES_128_GCM_SHA256 (RFC 8446 4.1.2: the rest is unchanged)",
		ch2(func(h *clientHello) { h.suites = []uint16{suiteAES128GCM} }), alert("illegal_parameter"))
	second("hrr-second-client-hello-early-data", "the second ClientHello adds early_data (RFC 8446 4.1.2: early_data is removed after a HelloRetryRequest)",
		ch2(func(h *clientHello) { h.exts = h.exts.with(extEarlyData, nil) }), alert("illegal_parameter"))
	second("hrr-change-cipher-spec-bad-payload", "a change_cipher_spec of value 2 after the HelloRetryRequest (RFC 8446 5: only the single byte 1 is dropped)",
		record(recCCS, tls12, []byte{2}), alert("unexpected_message"))
	second("hrr-application-data", "a plaintext application_data record instead of the second ClientHello",
		record(recAppData, tls12, []byte("hello")), alert("unexpected_message"))
	second("hrr-second-message-not-client-hello", "a Finished instead of the second ClientHello",
		hsRecord(handshake(hsFinished, zeros(32))), alert("unexpected_message"))
	second("hrr-unknown-record-type", "a plaintext record of content type 24 (heartbeat) after the HelloRetryRequest (RFC 8446 5)",
		record(24, tls12, []byte{1, 0, 0}), alert("unexpected_message"))
	ch2Msg := c.hello().message()
	second("hrr-second-client-hello-fragmented-around-change-cipher-spec", "the second ClientHello split over two records with a change_cipher_spec between them (RFC 8446 5.1: handshake messages must not be interleaved with other record types)",
		concat(hsRecord(ch2Msg[:20]), record(recCCS, tls12, []byte{1}), hsRecord(ch2Msg[20:])), alert("unexpected_message"))

	// After our server's flight: the client's protected flight. Our server
	// has moved to its application keys, so its alert is protected.
	ch := c.hello().message()
	fl := captureServerFlight(f.setup, c, ch)
	chRec := firstRecord(ch)
	prot := func(id, comment string, rest func(k *recordKeys) []byte, want negativeExpected) {
		srv(id, comment, concat(chRec, rest(fl.clientKeys())), want, interim(len(chRec), fl.flight))
	}
	prot("client-finished-does-not-verify", "the client Finished decrypts but its verify_data has one bit flipped (RFC 8446 4.4.4; PROFILE.md Alerts)",
		func(k *recordKeys) []byte { return k.seal(recHandshake, flipLast(fl.cFin)) }, protectedAlert("decrypt_error", "code_mismatch"))
	prot("client-finished-bad-record-mac", "the record of the client Finished has one ciphertext bit flipped (RFC 8446 5.2; PROFILE.md Alerts)",
		func(k *recordKeys) []byte {
			r := k.seal(recHandshake, fl.cFin)
			r[5] ^= 0x80
			return r
		}, protectedAlert("bad_record_mac", "code_mismatch"))
	prot("protected-record-overflow", "a protected record of 2^14+257 bytes (RFC 8446 5.2: record_overflow)",
		func(*recordKeys) []byte { return record(recAppData, tls12, zeros(maxCiphertext+1)) }, protectedAlert("record_overflow", ""))
	prot("protected-record-max-length-bad-mac", "a protected record of exactly 2^14+256 bytes (allowed) that does not authenticate",
		func(*recordKeys) []byte { return record(recAppData, tls12, zeros(maxCiphertext)) }, protectedAlert("bad_record_mac", "code_mismatch"))
	prot("protected-inner-plaintext-overflow", "a protected record whose inner plaintext is 2^14+2 bytes (RFC 8446 5.4: record_overflow)",
		func(k *recordKeys) []byte { return k.seal(recHandshake, zeros(maxPlaintext+1)) }, protectedAlert("record_overflow", ""))
	prot("application-data-before-client-finished", "protected application data before the client Finished (RFC 8446 5)",
		func(k *recordKeys) []byte { return k.seal(recAppData, []byte("early")) }, protectedAlert("unexpected_message", ""))
	prot("plaintext-finished-after-key-change", "the client Finished in a plaintext record once keys are in use (RFC 8446 5)",
		func(*recordKeys) []byte { return hsRecord(fl.cFin) }, protectedAlert("unexpected_message", ""))
	prot("change-cipher-spec-bad-payload", "a change_cipher_spec of value 2 before the client Finished (RFC 8446 5)",
		func(*recordKeys) []byte { return record(recCCS, tls12, []byte{2}) }, protectedAlert("unexpected_message", ""))
	prot("protected-change-cipher-spec", "a protected record of inner type change_cipher_spec (RFC 8446 5)",
		func(k *recordKeys) []byte { return k.seal(recCCS, []byte{1}) }, protectedAlert("unexpected_message", ""))
	prot("key-update-before-client-finished", "a KeyUpdate instead of the client Finished (RFC 8446 4.6.3: unexpected_message before Finished)",
		func(k *recordKeys) []byte { return k.seal(recHandshake, handshake(hsKeyUpdate, []byte{0})) }, protectedAlert("unexpected_message", ""))
	prot("client-finished-and-next-message-in-one-record", "the client Finished and the start of another message in one record: a message may not span the key change (RFC 8446 5.1)",
		func(k *recordKeys) []byte { return k.seal(recHandshake, concat(fl.cFin, []byte{hsKeyUpdate, 0})) }, protectedAlert("unexpected_message", ""))
	prot("certificate-instead-of-client-finished", "a Certificate instead of the client Finished: no certificates in a PAKE-only handshake (PROFILE.md section 3)",
		func(k *recordKeys) []byte { return k.seal(recHandshake, certificateEmpty) }, protectedAlert("unexpected_message", ""))
	return f
}

func genServerHelloFile() *fileBuilder {
	f := newFileBuilder("serverhello.json",
		"Bytes a server sends to our client in answer to its ClientHello (client_hello). Each case breaks one rule in the ServerHello, "+
			"a HelloRetryRequest, the records carrying them, or the protected flight that follows: the client-side rows of PROFILE.md's "+
			"alert table, RFC 8446's rules, and the low-order points of draft-irtf-cfrg-cpace-21 as Yb.",
		baseConfig())
	v := captureClientHello(f.setup)
	f.clientHello = v.rec
	s := newRawServer(v)
	s.checkValidFlight(f.setup)
	cli := func(id, comment string, input []byte, want negativeExpected, opts ...caseOpt) {
		f.add("client", id, comment, input, want, opts...)
	}
	edit := func(mut func(h *serverHello)) []byte {
		h := s.hello()
		mut(&h)
		return hsRecord(h.message())
	}
	setExt := func(typ uint16, body []byte) []byte {
		return edit(func(h *serverHello) { h.exts = h.exts.with(typ, body) })
	}
	setPAKE := func(scheme uint16, msg []byte) []byte {
		return setExt(extPAKE, pakeServerHello(pakeShare{scheme, msg}))
	}
	basePAKE := s.hello().exts.get(extPAKE)
	sh := s.hello().message()
	shBody := func(mut func(b []byte) []byte) []byte {
		return hsRecord(fixLength(append(sh[:4:4], mut(append([]byte(nil), sh[4:]...))...)))
	}

	// PROFILE.md, Alerts.
	cli("pake-server-hello-truncated", "PAKEServerHello one byte short (PROFILE.md Alerts: does not parse)",
		setExt(extPAKE, basePAKE[:len(basePAKE)-1]), alert("decode_error"))
	cli("pake-server-hello-trailing-byte", "PAKEServerHello followed by one byte (PROFILE.md section 1)",
		setExt(extPAKE, append(append([]byte(nil), basePAKE...), 0)), alert("decode_error"))
	cli("pake-server-hello-empty", "pake extension with an empty body",
		setExt(extPAKE, nil), alert("decode_error"))
	cli("pake-server-share-empty-message", "server PAKEShare with an empty pake_message",
		setPAKE(schemeCPace, nil), alert("decode_error"))
	cli("pake-server-share-31-bytes", "Yb of 31 bytes (PROFILE.md section 2)",
		setPAKE(schemeCPace, s.yb[:31]), alert("decode_error"))
	cli("pake-server-share-33-bytes", "Yb of 33 bytes (PROFILE.md section 2)",
		setPAKE(schemeCPace, append(append([]byte(nil), s.yb...), 0)), alert("decode_error"))
	cli("pake-scheme-not-offered", "the server selects SPAKE2PLUS_V1, which the client did not offer (PROFILE.md Alerts)",
		setPAKE(schemeSPAKE2PP, s.yb), alert("illegal_parameter"))
	cli("neither-pake-nor-psk", "a ServerHello with neither pake nor pre_shared_key (PROFILE.md Alerts); the client reports a server that does not speak pake",
		edit(func(h *serverHello) { h.exts = h.exts.without(extPAKE) }), alertErr("missing_extension", "not_pake_peer"))
	for _, p := range lowOrderPoints {
		cli("pake-low-order-"+p.name, "Yb is the low-order point "+p.name+" of draft-irtf-cfrg-cpace-21: K is the neutral element (PROFILE.md Alerts)",
			setPAKE(schemeCPace, unhex(p.hex)), alert("illegal_parameter"))
	}

	// RFC 8446 4.1.3, 4.2.
	cli("no-supported-versions", "a ServerHello without supported_versions: TLS 1.2 (RFC 8446 4.1.3, 4.2.1)",
		edit(func(h *serverHello) { h.exts = h.exts.without(extSupportedVersions) }), alertErr("protocol_version", "not_pake_peer"))
	cli("supported-versions-tls12", "supported_versions selects TLS 1.2, which was not offered (RFC 8446 4.2.1: illegal_parameter)",
		setExt(extSupportedVersions, []byte{3, 3}), alert("illegal_parameter"))
	cli("legacy-version-ssl3", "legacy_version 0x0300 (RFC 8446 D.5)",
		edit(func(h *serverHello) { h.vers = 0x0300 }), alert("protocol_version"))
	cli("session-id-echo-mismatch", "legacy_session_id_echo differs from the client's (RFC 8446 4.1.3)",
		edit(func(h *serverHello) { h.sessionID = bytes.Repeat([]byte{7}, 32) }), alert("illegal_parameter"))
	cli("cipher-suite-not-offered", "cipher suite TLS_AES_128_CCM_SHA256, not offered (RFC 8446 4.1.3)",
		edit(func(h *serverHello) { h.suite = 0x1304 }), alert("illegal_parameter"))
	cli("compression-method-1", "legacy_compression_method 1 (RFC 8446 4.1.3)",
		edit(func(h *serverHello) { h.comp = 1 }), alert("illegal_parameter"))
	cli("key-share-group-not-sent", "the server's key share is for X25519MLKEM768; the client sent only an X25519 share (RFC 8446 4.2.8)",
		setExt(extKeyShare, keyShareEntry(keyShare{groupX25519MLKEM768, zeros(1120)})), alert("illegal_parameter"))
	cli("x25519-share-all-zero", "the server's X25519 share is the all-zero point (RFC 8446 7.4.2)",
		setExt(extKeyShare, keyShareEntry(keyShare{groupX25519, zeros(32)})), alert("illegal_parameter"))
	cli("no-key-share", "no key_share: psk_ke is not allowed (PROFILE.md section 5)",
		edit(func(h *serverHello) { h.exts = h.exts.without(extKeyShare) }), alert("missing_extension"))
	cli("pre-shared-key-not-offered", "pre_shared_key, which the client did not offer (RFC 8446 4.2: unsupported_extension)",
		edit(func(h *serverHello) { h.exts = h.exts.with(extPreSharedKey, []byte{0, 0}) }), alert("unsupported_extension"))
	cli("duplicate-extension", "pake twice (RFC 8446 4.2)",
		edit(func(h *serverHello) { h.exts = append(h.exts.clone(), h.exts[h.exts.index(extPAKE)]) }), alert("illegal_parameter"))
	cli("unknown-extension", "extension 0x0a0a, which the client did not offer (RFC 8446 4.2)",
		edit(func(h *serverHello) { h.exts = append(h.exts.clone(), ext{0x0a0a, nil}) }), alert("unsupported_extension"))
	cli("supported-groups-in-server-hello", "supported_groups (offered, but not allowed in a ServerHello; RFC 8446 4.2: illegal_parameter)",
		edit(func(h *serverHello) { h.exts = append(h.exts.clone(), ext{extSupportedGroups, u16list(groupX25519)}) }), alert("illegal_parameter"))
	cli("cookie-in-server-hello", "cookie, allowed only in a HelloRetryRequest (RFC 8446 4.2)",
		edit(func(h *serverHello) { h.exts = append(h.exts.clone(), ext{extCookie, []byte{0, 1, 1}}) }), alert("illegal_parameter"))
	cli("server-hello-trailing-byte", "one byte after the extensions block",
		shBody(func(b []byte) []byte { return append(b, 0) }), alert("decode_error"))
	cli("server-hello-truncated-in-random", "ServerHello cut 10 bytes into random (lengths fixed)",
		shBody(func(b []byte) []byte { return b[:12] }), alert("decode_error"))
	cli("server-hello-truncated-in-extensions", "ServerHello cut 3 bytes into its extensions block",
		shBody(func(b []byte) []byte { return b[:2+32+1+len(v.sessionID)+3+2+3] }), alert("decode_error"))
	cli("extension-length-overrun", "the first extension's length is 0xffff",
		shBody(func(b []byte) []byte {
			off := 2 + 32 + 1 + len(v.sessionID) + 3 + 2 + 2
			b[off], b[off+1] = 0xff, 0xff
			return b
		}), alert("decode_error"))
	cli("session-id-33-bytes", "legacy_session_id_echo of 33 bytes",
		edit(func(h *serverHello) { h.sessionID = zeros(33) }), alert("decode_error"))
	cli("first-message-not-server-hello", "an EncryptedExtensions in plaintext instead of the ServerHello (RFC 8446 6.2)",
		hsRecord(encryptedExtensions(nil)), alert("unexpected_message"))
	cli("server-hello-and-next-message-in-one-record", "the ServerHello and the start of EncryptedExtensions in one record (RFC 8446 5.1: a message may not span the key change)",
		hsRecord(concat(sh, []byte{hsEncryptedExtensions, 0, 0})), alert("unexpected_message"))

	// HelloRetryRequest misuse (RFC 8446 4.1.4; PROFILE.md Alerts).
	hrr := s.hrr(groupX25519MLKEM768).message()
	hrrRec := hsRecord(hrr)
	ch2 := captureSecondClientHello(f.setup, hrr)
	editHRR := func(group uint16, mut func(h *serverHello)) []byte {
		h := s.hrr(group)
		mut(&h)
		return hsRecord(h.message())
	}
	cli("hrr-carries-pake", "a HelloRetryRequest with a pake extension (PROFILE.md Alerts: it never may). PROFILE.md's table says unsupported_extension, but RFC 8446 4.2 requires illegal_parameter for an offered, recognised extension in a message where it is not specified (4.1.4's unsupported_extension is for extensions not offered); this implementation follows the RFC (tlspake/spec_choices.go)",
		editHRR(groupX25519MLKEM768, func(h *serverHello) {
			h.exts = append(h.exts, ext{extPAKE, pakeServerHello(pakeShare{schemeCPace, s.yb})})
		}), alert("illegal_parameter"))
	cli("hrr-second", "a second HelloRetryRequest after the second ClientHello (RFC 8446 4.1.4: unexpected_message)",
		concat(hrrRec, hrrRec), alert("unexpected_message"), interim(len(hrrRec), ch2))
	cli("hrr-group-not-offered", "a HelloRetryRequest selecting secp256r1, not in supported_groups (RFC 8446 4.1.4, 4.2.8)",
		hsRecord(s.hrr(groupSecp256r1).message()), alert("illegal_parameter"))
	cli("hrr-group-already-shared", "a HelloRetryRequest selecting X25519, for which the ClientHello has a share (RFC 8446 4.2.8)",
		hsRecord(s.hrr(groupX25519).message()), alert("illegal_parameter"))
	cli("hrr-changes-nothing", "a HelloRetryRequest with neither key_share nor cookie: the ClientHello would not change (RFC 8446 4.1.4)",
		hsRecord(s.hrr(0).message()), alert("illegal_parameter"))
	cli("hrr-empty-cookie", "a HelloRetryRequest with an empty cookie (opaque cookie<1..2^16-1>)",
		editHRR(groupX25519MLKEM768, func(h *serverHello) { h.exts = append(h.exts, ext{extCookie, []byte{0, 0}}) }), alert("decode_error"))
	cli("hrr-cipher-suite-not-offered", "a HelloRetryRequest selecting TLS_AES_128_CCM_SHA256 (RFC 8446 4.1.4)",
		editHRR(groupX25519MLKEM768, func(h *serverHello) { h.suite = 0x1304 }), alert("illegal_parameter"))
	cli("hrr-supported-versions-tls12", "a HelloRetryRequest whose supported_versions selects TLS 1.2 (RFC 8446 4.1.4, 4.2.1)",
		editHRR(groupX25519MLKEM768, func(h *serverHello) { h.exts = h.exts.with(extSupportedVersions, []byte{3, 3}) }), alert("illegal_parameter"))
	cli("hrr-then-server-hello-cipher-suite-changed", "after the HelloRetryRequest (TLS_AES_128_GCM_SHA256), a ServerHello with TLS_CHACHA20_POLY1305_SHA256 (RFC 8446 4.1.4)",
		concat(hrrRec, edit(func(h *serverHello) {
			h.suite = suiteChaCha20
			h.exts = h.exts.with(extKeyShare, keyShareEntry(keyShare{groupX25519MLKEM768, zeros(1120)}))
		})), alert("illegal_parameter"), interim(len(hrrRec), ch2))
	cli("hrr-then-server-hello-group-changed", "after a HelloRetryRequest for X25519MLKEM768, a ServerHello whose key share is for X25519 (RFC 8446 4.2.8: illegal_parameter)",
		concat(hrrRec, hsRecord(sh)), alert("illegal_parameter"), interim(len(hrrRec), ch2))
	cli("hrr-key-share-malformed", "a HelloRetryRequest whose key_share body is 3 bytes (a NamedGroup is 2)",
		editHRR(0, func(h *serverHello) { h.exts = append(h.exts, ext{extKeyShare, []byte{0x11, 0xec, 0}}) }), alert("decode_error"))
	cli("hrr-change-cipher-spec-bad-payload", "after the HelloRetryRequest, a change_cipher_spec of value 2 (RFC 8446 5)",
		concat(hrrRec, record(recCCS, tls12, []byte{2})), alert("unexpected_message"), interim(len(hrrRec), ch2))

	// Records before any keys.
	cli("application-data-first", "an application_data record instead of the ServerHello; the client reports a server that does not speak pake",
		record(recAppData, tls12, []byte("hello")), alertErr("unexpected_message", "not_pake_peer"))
	cli("plaintext-record-overflow", "a plaintext record of 2^14+1 bytes (RFC 8446 5.1)",
		record(recHandshake, tls12, append(append([]byte(nil), sh...), zeros(maxPlaintext+1-len(sh))...)), alert("record_overflow"))
	cli("empty-handshake-record", "a handshake record of length 0 (RFC 8446 5.1)",
		hsRecord(nil), alert("unexpected_message"))
	cli("not-tls", "an HTTP response instead of TLS; the client reports a server that does not speak pake",
		[]byte("HTTP/1.1 400 Bad Request\r\n\r\n"), alertErr("unexpected_message", "not_pake_peer"))
	cli("fatal-alert-handshake-failure", "the server answers with a fatal handshake_failure: our client reports it, sends nothing, and says the server does not speak pake",
		record(recAlert, tls12, []byte{2, 40}), negativeExpected{Received: "handshake_failure", Error: "not_pake_peer"})
	cli("fatal-alert-access-denied", "the server answers with access_denied (PROFILE.md Alerts: not taking attempts): our client reports that attempts are refused",
		record(recAlert, tls12, []byte{2, 49}), negativeExpected{Received: "access_denied", Error: "attempts_refused"})
	cli("warning-level-handshake-failure", "handshake_failure with level warning: error alerts are fatal whatever their level (RFC 8446 6)",
		record(recAlert, tls12, []byte{1, 40}), negativeExpected{Received: "handshake_failure"})
	cli("malformed-alert", "an alert record of 3 bytes (RFC 8446 6)",
		record(recAlert, tls12, []byte{2, 40, 0}), alert("decode_error"))
	cli("server-hello-fragmented-around-change-cipher-spec", "the ServerHello split over two records with a change_cipher_spec between them (RFC 8446 5.1: handshake messages must not be interleaved with other record types)",
		concat(hsRecord(sh[:20]), record(recCCS, tls12, []byte{1}), hsRecord(sh[20:])), alert("unexpected_message"))
	cli("record-cut-short", "the ServerHello record is cut short and the connection ends: no alert is possible",
		hsRecord(sh)[:40], negativeExpected{Error: "unexpected_eof"})

	// The protected flight (RFC 8446 4.3, 5.2; PROFILE.md section 3). Our
	// client's alert is protected with its handshake keys.
	k := s.keys(sh)
	shRec := hsRecord(sh)
	prot := func(id, comment string, rest func(sk *recordKeys) []byte, want negativeExpected) {
		cli(id, comment, concat(shRec, rest(k.serverRecordKeys())), want)
	}
	prot("encrypted-extensions-bad-record-mac", "the EncryptedExtensions record has one tag bit flipped: what a wrong code looks like (PROFILE.md section 3)",
		func(sk *recordKeys) []byte { return flipLast(sk.seal(recHandshake, k.ee)) }, protectedAlert("bad_record_mac", "code_mismatch"))
	prot("server-finished-does-not-verify", "the server Finished decrypts but its verify_data has one bit flipped (RFC 8446 4.4.4)",
		func(sk *recordKeys) []byte {
			return concat(sk.seal(recHandshake, k.ee), sk.seal(recHandshake, flipLast(k.sfin)))
		},
		protectedAlert("decrypt_error", "code_mismatch"))
	prot("certificate-instead-of-encrypted-extensions", "a Certificate instead of EncryptedExtensions (RFC 8446 4.3.1)",
		func(sk *recordKeys) []byte { return sk.seal(recHandshake, certificateEmpty) }, protectedAlert("unexpected_message", ""))
	prot("certificate-instead-of-server-finished", "a Certificate after EncryptedExtensions: a PAKE-only flight has none (PROFILE.md section 3)",
		func(sk *recordKeys) []byte {
			return concat(sk.seal(recHandshake, k.ee), sk.seal(recHandshake, certificateEmpty))
		},
		protectedAlert("unexpected_message", ""))
	prot("protected-record-overflow", "a protected record of 2^14+257 bytes (RFC 8446 5.2)",
		func(*recordKeys) []byte { return record(recAppData, tls12, zeros(maxCiphertext+1)) }, protectedAlert("record_overflow", ""))
	prot("protected-inner-plaintext-overflow", "a protected record whose inner plaintext is 2^14+2 bytes (RFC 8446 5.4)",
		func(sk *recordKeys) []byte { return sk.seal(recHandshake, zeros(maxPlaintext+1)) }, protectedAlert("record_overflow", ""))
	prot("application-data-before-server-finished", "protected application data after EncryptedExtensions, before the server Finished",
		func(sk *recordKeys) []byte {
			return concat(sk.seal(recHandshake, k.ee), sk.seal(recAppData, []byte("early")))
		},
		protectedAlert("unexpected_message", ""))
	prot("key-update-before-server-finished", "a KeyUpdate after EncryptedExtensions, before the server Finished (RFC 8446 4.6.3)",
		func(sk *recordKeys) []byte {
			return concat(sk.seal(recHandshake, k.ee), sk.seal(recHandshake, handshake(hsKeyUpdate, []byte{0})))
		}, protectedAlert("unexpected_message", ""))
	prot("server-finished-and-next-message-in-one-record", "EncryptedExtensions, then the server Finished and the start of another message in one record (RFC 8446 5.1: the key changes after the Finished)",
		func(sk *recordKeys) []byte {
			return concat(sk.seal(recHandshake, k.ee), sk.seal(recHandshake, concat(k.sfin, []byte{hsKeyUpdate, 0})))
		}, protectedAlert("unexpected_message", ""))
	prot("pake-in-encrypted-extensions", "pake in EncryptedExtensions (RFC 8446 4.2: recognised but not allowed there)",
		func(sk *recordKeys) []byte { return sk.seal(recHandshake, encryptedExtensions(exts{{extPAKE, nil}})) }, protectedAlert("illegal_parameter", ""))
	prot("unknown-extension-in-encrypted-extensions", "extension 0x0a0a in EncryptedExtensions, not offered (RFC 8446 4.2)",
		func(sk *recordKeys) []byte { return sk.seal(recHandshake, encryptedExtensions(exts{{0x0a0a, nil}})) },
		protectedAlert("unsupported_extension", ""))
	prot("alpn-not-offered", "ALPN in EncryptedExtensions to a client that sent none (RFC 8446 4.2)",
		func(sk *recordKeys) []byte {
			return sk.seal(recHandshake, encryptedExtensions(exts{{extALPN, []byte{0, 3, 2, 'h', '2'}}}))
		}, protectedAlert("unsupported_extension", ""))
	prot("encrypted-extensions-trailing-byte", "EncryptedExtensions followed by one byte (lengths fixed)",
		func(sk *recordKeys) []byte {
			return sk.seal(recHandshake, fixLength(append(encryptedExtensions(nil), 0)))
		},
		protectedAlert("decode_error", ""))
	prot("protected-change-cipher-spec", "a protected record of inner type change_cipher_spec (RFC 8446 5)",
		func(sk *recordKeys) []byte { return sk.seal(recCCS, []byte{1}) }, protectedAlert("unexpected_message", ""))
	prot("change-cipher-spec-bad-payload", "a plaintext change_cipher_spec of value 2 after the ServerHello (RFC 8446 5)",
		func(*recordKeys) []byte { return record(recCCS, tls12, []byte{2}) }, protectedAlert("unexpected_message", ""))
	prot("plaintext-handshake-after-key-change", "EncryptedExtensions in a plaintext record after the ServerHello (RFC 8446 5)",
		func(*recordKeys) []byte { return hsRecord(k.ee) }, protectedAlert("unexpected_message", ""))
	return f
}

// pskConfig is the base configuration with the pairing PSK.
func pskConfig() negativeConfig {
	cfg := baseConfig()
	cfg.PSKs = []negativePSK{{Identity: hex.EncodeToString(genPSKID), Secret: hex.EncodeToString(genPSK)}}
	return cfg
}

func genPSKFile() *fileBuilder {
	f := newFileBuilder("psk.json",
		"External PSKs (PROFILE.md section 5, RFC 8446 4.2.11): our server knows the PSK of config.psks and the code; our client offers "+
			"the PSK and the code. Binders that do not verify, malformed pre_shared_key extensions, and ServerHellos that misuse the PSK.",
		pskConfig())
	c := newRawClient()
	srv := func(id, comment string, input []byte, want negativeExpected, opts ...caseOpt) {
		f.add("server", id, comment, input, want, opts...)
	}
	ids, secrets := [][]byte{genPSKID}, [][]byte{genPSK}
	withPSK := func(h clientHello) clientHello { return withPSKs(h, nil, ids, secrets) }
	noPAKE := func() clientHello {
		h := c.hello()
		h.exts = h.exts.without(extPAKE)
		return h
	}
	flipBinder := func(h clientHello) []byte {
		h.exts = h.exts.with(extPreSharedKey, flipLast(h.exts.get(extPreSharedKey)))
		return firstRecord(h.message())
	}
	rawPSK := func(h clientHello, ids, binders [][]byte) []byte {
		h.exts = h.exts.with(extPSKModes, pskModes(1)).with(extPreSharedKey, preSharedKey(ids, binders))
		return firstRecord(h.message())
	}

	srv("psk-binder-bit-flipped", "the binder of the known PSK has one bit flipped; pake is offered too (PROFILE.md Alerts: decrypt_error, RFC 8446 4.2.11)",
		flipBinder(withPSK(c.hello())), alert("decrypt_error"))
	srv("psk-binder-bit-flipped-without-pake", "the binder of the known PSK has one bit flipped; no pake",
		flipBinder(withPSK(noPAKE())), alert("decrypt_error"))
	srv("psk-binder-wrong-secret", "the binder is computed with another secret for the known identity",
		firstRecord(withPSKs(noPAKE(), nil, ids, [][]byte{bytes.Repeat([]byte{0xa5}, 32)}).message()), alert("decrypt_error"))
	srv("psk-binder-31-bytes", "a binder of 31 bytes (PskBinderEntry<32..255>)",
		rawPSK(noPAKE(), ids, [][]byte{zeros(31)}), alert("decode_error"))
	srv("psk-fewer-binders-than-identities", "two identities and one binder (RFC 8446 4.2.11)",
		rawPSK(noPAKE(), [][]byte{genPSKID, []byte("other")}, [][]byte{zeros(32)}), alert("decode_error"))
	srv("psk-empty-identity", "an empty PSK identity (opaque identity<1..2^16-1>)",
		rawPSK(noPAKE(), [][]byte{nil}, [][]byte{zeros(32)}), alert("decode_error"))
	srv("psk-not-last-extension", "pre_shared_key is not the last extension (RFC 8446 4.2.11: illegal_parameter)",
		func() []byte {
			h := withPSK(c.hello())
			i := h.exts.index(extPreSharedKey)
			h.exts = append(exts{h.exts[i]}, h.exts[:i]...)
			return firstRecord(h.message())
		}(), alert("illegal_parameter"))
	srv("psk-without-psk-key-exchange-modes", "pre_shared_key without psk_key_exchange_modes (RFC 8446 4.2.9: missing_extension)",
		func() []byte {
			h := withPSK(noPAKE())
			h.exts = h.exts.without(extPSKModes)
			return firstRecord(h.message())
		}(), alert("missing_extension"))
	srv("psk-unknown-identity-without-pake", "an unknown PSK identity and no pake: nothing to authenticate with (RFC 8446 4.2.11)",
		firstRecord(withPSKs(noPAKE(), nil, [][]byte{[]byte("pairing-id-9999")}, secrets).message()), alert("unknown_psk_identity"))

	// After a HelloRetryRequest the binder covers the transcript so far
	// (RFC 8446 4.2.11.2).
	ch1h := noPAKE()
	ch1h.exts = ch1h.exts.with(extKeyShare, keyShareList())
	ch1h = withPSK(ch1h)
	ch1 := ch1h.message()
	hrr := captureHRR(f.setup, ch1, func(hrrMsg []byte) []byte {
		return withPSKs(noPAKE(), concat(messageHash(ch1), hrrMsg), ids, secrets).message()
	})
	ch1Rec := firstRecord(ch1)
	srv("psk-hrr-binder-without-transcript", "the second ClientHello's binder is computed over that ClientHello alone, leaving out message_hash(ClientHello1) and the HelloRetryRequest (RFC 8446 4.2.11.2)",
		concat(ch1Rec, hsRecord(withPSK(noPAKE()).message())), alert("decrypt_error"), interim(len(ch1Rec), hrr))
	srv("psk-hrr-identity-changed", "the second ClientHello offers another PSK identity (RFC 8446 4.1.2: the ClientHello is unchanged but for the key share)",
		concat(ch1Rec, hsRecord(withPSKs(noPAKE(), concat(messageHash(ch1), hrr[5:]), [][]byte{[]byte("pairing-id-0002")}, secrets).message())),
		alert("illegal_parameter"), interim(len(ch1Rec), hrr))

	// Our client offering the PSK and the code.
	v := captureClientHello(f.setup)
	mustf(v.hello.exts.index(extPreSharedKey) == len(v.hello.exts)-1, "our client's ClientHello has no pre_shared_key last")
	f.clientHello = v.rec
	s := newRawServer(v)
	cli := func(id, comment string, input []byte, want negativeExpected, opts ...caseOpt) {
		f.add("client", id, comment, input, want, opts...)
	}
	pskSH := func(mut func(h *serverHello)) []byte {
		h := s.hello()
		h.exts = h.exts.without(extPAKE).with(extPreSharedKey, []byte{0, 0})
		mut(&h)
		return hsRecord(h.message())
	}
	cli("psk-server-sends-decrypt-error", "the server answers with decrypt_error (its answer to a binder that does not verify): our client reports the PSK rejected",
		record(recAlert, tls12, []byte{2, 51}), negativeExpected{Received: "decrypt_error", Error: "psk_rejected"})
	cli("psk-selected-identity-out-of-range", "selected_identity 1; one PSK was offered (RFC 8446 4.2.11: illegal_parameter)",
		pskSH(func(h *serverHello) { h.exts = h.exts.with(extPreSharedKey, []byte{0, 1}) }), alert("illegal_parameter"))
	cli("psk-and-pake-selected", "a ServerHello with both pre_shared_key and pake (draft-ietf-tls-pake, Server Behavior: a server using PAKE MUST NOT send pre_shared_key)",
		pskSH(func(h *serverHello) {
			h.exts = append(h.exts, ext{extPAKE, pakeServerHello(pakeShare{schemeCPace, s.yb})})
		}), alert("illegal_parameter"))
	cli("psk-cipher-suite-hash-mismatch", "the PSK (SHA-256) selected with TLS_AES_256_GCM_SHA384 (RFC 8446 4.2.11)",
		pskSH(func(h *serverHello) { h.suite = suiteAES256GCM }), alert("illegal_parameter"))
	cli("psk-in-hello-retry-request", "a HelloRetryRequest carrying pre_shared_key: offered, but not allowed in a HelloRetryRequest (RFC 8446 4.2: illegal_parameter)",
		func() []byte {
			h := s.hrr(groupX25519MLKEM768)
			h.exts = append(h.exts, ext{extPreSharedKey, []byte{0, 0}})
			return hsRecord(h.message())
		}(), alert("illegal_parameter"))
	return f
}

func genAttemptsFile() *fileBuilder {
	cfg := pskConfig()
	cfg.RefuseAttempts = true
	f := newFileBuilder("attempts.json",
		"A server that is not taking code attempts (PROFILE.md Alerts: access_denied, in answer to the ClientHello, before any PAKE work). "+
			"The checks before it still come first: the ClientHello parses, then its structure is legal (PROFILE.md: checks run in this order). "+
			"An attempt with a known PSK is not refused, and its binder is still checked.",
		cfg)
	c := newRawClient()
	srv := func(id, comment string, input []byte, want negativeExpected) {
		f.add("server", id, comment, input, want)
	}
	edit := func(mut func(h *clientHello)) []byte {
		h := c.hello()
		mut(&h)
		return firstRecord(h.message())
	}
	setPAKE := func(sid []byte, shares ...pakeShare) []byte {
		return edit(func(h *clientHello) { h.exts = h.exts.with(extPAKE, pakeClientHello(genClientID, sid, shares...)) })
	}
	srv("attempt-refused", "a valid ClientHello with pake: the server is not taking attempts",
		edit(func(*clientHello) {}), alert("access_denied"))
	srv("attempt-refused-before-low-order-check", "Ya is the low-order point u0: refused before any PAKE work, so before the share is checked",
		setPAKE(genServerID, pakeShare{schemeCPace, unhex(lowOrderPoints[0].hex)}), alert("access_denied"))
	srv("attempt-refused-unknown-identity", "an unknown server_identity: refused like a known one, before the simulation",
		setPAKE([]byte("unknown-device"), pakeShare{schemeCPace, c.ya}), alert("access_denied"))
	srv("attempt-truncated-client-hello", "the ClientHello does not parse: decode_error comes first",
		firstRecord(handshake(hsClientHello, c.hello().body()[:40])), alert("decode_error"))
	srv("attempt-pake-share-31-bytes", "a CPace share of 31 bytes: a structure check, before the attempt gate",
		setPAKE(genServerID, pakeShare{schemeCPace, c.ya[:31]}), alert("decode_error"))
	srv("attempt-pake-shares-unsorted", "unsorted PAKE shares: a structure check, before the attempt gate",
		setPAKE(genServerID, pakeShare{schemeSPAKE2PP, zeros(33)}, pakeShare{schemeCPace, c.ya}), alert("illegal_parameter"))
	srv("attempt-no-scheme-in-common", "no PAKE scheme in common: a structure check, before the attempt gate",
		setPAKE(genServerID, pakeShare{schemeSPAKE2PP, zeros(33)}), alert("illegal_parameter"))
	srv("attempt-pake-without-key-share", "pake without key_share: a structure check, before the attempt gate",
		edit(func(h *clientHello) { h.exts = h.exts.without(extKeyShare) }), alert("missing_extension"))
	srv("attempt-compression-method-1", "legacy_compression_methods [1]: before the attempt gate",
		edit(func(h *clientHello) { h.comp = []byte{1} }), alert("illegal_parameter"))
	srv("attempt-tls12-only", "supported_versions [TLS 1.2]: before the attempt gate",
		edit(func(h *clientHello) { h.exts = h.exts.with(extSupportedVersions, supportedVersions(0x0303)) }), alert("protocol_version"))
	ids, secrets := [][]byte{genPSKID}, [][]byte{genPSK}
	srv("attempt-psk-bad-binder", "a known PSK with a binder bit flipped: PSK attempts are not refused, so the binder is checked (decrypt_error)",
		func() []byte {
			h := withPSKs(c.hello(), nil, ids, secrets)
			h.exts = h.exts.with(extPreSharedKey, flipLast(h.exts.get(extPreSharedKey)))
			return firstRecord(h.message())
		}(), alert("decrypt_error"))
	srv("attempt-psk-bad-binder-without-pake", "as attempt-psk-bad-binder, without pake",
		func() []byte {
			h := c.hello()
			h.exts = h.exts.without(extPAKE)
			h = withPSKs(h, nil, ids, secrets)
			h.exts = h.exts.with(extPreSharedKey, flipLast(h.exts.get(extPreSharedKey)))
			return firstRecord(h.message())
		}(), alert("decrypt_error"))
	return f
}
