// Package cpacecore holds the primitives of CPACE-X25519-SHA512
// (draft-irtf-cfrg-cpace-21): the string utilities, the generator
// calculation with Elligator 2, the X25519 scalar multiplication with its
// identity check, and the ISK and sid_output derivations.
//
// It is internal so that the shared point K, which must never leave the
// CPace code, is reachable only from the public package
// github.com/tlspake/pake/tlspake/cpace and from the conformance-vector
// tool, which prints it as test data.
package cpacecore

// PrependLen returns data prefixed with the LEB128 encoding of its length
// (prepend_len in the draft).
func PrependLen(data []byte) []byte {
	return append(appendLEB128(make([]byte, 0, len(data)+10), uint64(len(data))), data...)
}

func appendLEB128(dst []byte, n uint64) []byte {
	for {
		if n < 128 {
			return append(dst, byte(n))
		}
		dst = append(dst, byte(n&0x7f)|0x80)
		n >>= 7
	}
}

// AppendLV appends prepend_len(data) to dst.
func AppendLV(dst, data []byte) []byte {
	return append(appendLEB128(dst, uint64(len(data))), data...)
}

// LVCat is lv_cat: the concatenation of prepend_len of each argument.
func LVCat(args ...[]byte) []byte {
	n := 0
	for _, a := range args {
		n += len(a) + 10
	}
	out := make([]byte, 0, n)
	for _, a := range args {
		out = AppendLV(out, a)
	}
	return out
}

// LexicographicallyLarger reports whether a > b in the draft's ordering:
// byte-wise, and on a common prefix the longer string is larger.
// It is used only on public transcript data.
func LexicographicallyLarger(a, b []byte) bool {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}

// OCat is o_cat: b"oc" followed by the larger then the smaller string.
func OCat(a, b []byte) []byte {
	out := make([]byte, 0, 2+len(a)+len(b))
	out = append(out, 'o', 'c')
	if LexicographicallyLarger(a, b) {
		return append(append(out, a...), b...)
	}
	return append(append(out, b...), a...)
}

// TranscriptIR is transcript_ir(Ya, ADa, Yb, ADb) = lv_cat(Ya,ADa) || lv_cat(Yb,ADb).
func TranscriptIR(ya, ada, yb, adb []byte) []byte {
	return append(LVCat(ya, ada), LVCat(yb, adb)...)
}

// TranscriptOC is transcript_oc(Ya, ADa, Yb, ADb) = o_cat(lv_cat(Ya,ADa), lv_cat(Yb,ADb)).
func TranscriptOC(ya, ada, yb, adb []byte) []byte {
	return OCat(LVCat(ya, ada), LVCat(yb, adb))
}

// GeneratorString is generator_string(DSI, PRS, CI, sid, s_in_bytes):
// lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid), with the zero padding
// chosen so that DSI, PRS and the padding fill the hash's first block.
func GeneratorString(dsi, prs, ci, sid []byte, sInBytes int) []byte {
	zpad := max(0, sInBytes-1-len(PrependLen(prs))-len(PrependLen(dsi)))
	return LVCat(dsi, prs, make([]byte, zpad), ci, sid)
}
