package cpacecore

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/quick"
)

// unhex decodes a hex string that may be split over lines with spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func to32(t testing.TB, b []byte) *[32]byte {
	t.Helper()
	if len(b) != 32 {
		t.Fatalf("want 32 bytes, got %d", len(b))
	}
	return (*[32]byte)(b)
}

// Values from the appendix of draft-irtf-cfrg-cpace-21 ("Definition and
// test vectors for string utility functions" and "Test vector for CPace
// using group X25519 and hash SHA-512").

func TestPrependLen(t *testing.T) {
	r127 := make([]byte, 127)
	r128 := make([]byte, 128)
	for i := range r128 {
		r128[i] = byte(i)
		if i < 127 {
			r127[i] = byte(i)
		}
	}
	cases := []struct {
		in   []byte
		want []byte
	}{
		{nil, unhex(t, "00")},
		{[]byte("1234"), unhex(t, "0431323334")},
		{r127, append([]byte{0x7f}, r127...)},
		{r128, append([]byte{0x80, 0x01}, r128...)},
	}
	for _, c := range cases {
		if got := PrependLen(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("PrependLen(len %d) = %x, want %x", len(c.in), got, c.want)
		}
	}
	// Larger lengths: LEB128 of 300 is ac 02, of 16384 is 80 80 01.
	if got := PrependLen(make([]byte, 300))[:2]; !bytes.Equal(got, []byte{0xac, 0x02}) {
		t.Errorf("PrependLen(300 bytes) prefix = %x, want ac02", got)
	}
	if got := PrependLen(make([]byte, 16384))[:3]; !bytes.Equal(got, []byte{0x80, 0x80, 0x01}) {
		t.Errorf("PrependLen(16384 bytes) prefix = %x, want 808001", got)
	}
}

func TestLVCat(t *testing.T) {
	got := LVCat([]byte("1234"), []byte("5"), nil, []byte("678"))
	if want := unhex(t, "043132333401350003363738"); !bytes.Equal(got, want) {
		t.Errorf("lv_cat = %x, want %x", got, want)
	}
}

func TestOrderedConcatenation(t *testing.T) {
	larger := []struct {
		a, b string
		want bool
	}{
		{"\x00", "\x00\x00", false},
		{"\x01", "\x00\x00", true},
		{"\x00\x00", "\x00", true},
		{"\x00\x00", "\x01", false},
		{"\x00\x01", "\x01", false},
		{"ABCD", "BCD", false},
	}
	for _, c := range larger {
		if got := LexicographicallyLarger([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("lexiographically_larger(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	if got, want := OCat([]byte("ABCD"), []byte("BCD")), unhex(t, "6f6342434441424344"); !bytes.Equal(got, want) {
		t.Errorf("o_cat(ABCD, BCD) = %x, want %x", got, want)
	}
	if got, want := OCat([]byte("BCD"), []byte("ABCDE")), unhex(t, "6f634243444142434445"); !bytes.Equal(got, want) {
		t.Errorf("o_cat(BCD, ABCDE) = %x, want %x", got, want)
	}
}

func TestTranscripts(t *testing.T) {
	pa, pb := []byte("PartyA"), []byte("PartyB")
	cases := []struct {
		ya, yb string
		ir, oc string
	}{
		{"123", "234", "03313233065061727479410332333406506172747942",
			"6f6303323334065061727479420331323306506172747941"},
		{"3456", "2345", "043334353606506172747941043233343506506172747942",
			"6f63043334353606506172747941043233343506506172747942"},
	}
	for _, c := range cases {
		if got := TranscriptIR([]byte(c.ya), pa, []byte(c.yb), pb); !bytes.Equal(got, unhex(t, c.ir)) {
			t.Errorf("transcript_ir(%s, %s) = %x, want %s", c.ya, c.yb, got, c.ir)
		}
		if got := TranscriptOC([]byte(c.ya), pa, []byte(c.yb), pb); !bytes.Equal(got, unhex(t, c.oc)) {
			t.Errorf("transcript_oc(%s, %s) = %x, want %s", c.ya, c.yb, got, c.oc)
		}
	}
}

var (
	vecPRS = []byte("Password")
	vecCI  = []byte("\x0bA_initiator\x0bB_responder")
	vecSID = "7e4b4791d6a8ef019b936c79fb7f2c57"
)

func TestGenerator(t *testing.T) {
	sid := unhex(t, vecSID)
	gs := GeneratorString([]byte(DSI), vecPRS, vecCI, sid, HashBlockSize)
	wantGS := unhex(t, `0843506163653235350850617373776f72646d000000000000000000
      00000000000000000000000000000000000000000000000000000000
      00000000000000000000000000000000000000000000000000000000
      00000000000000000000000000000000000000000000000000000000
      00000000000000000000000000000000180b415f696e69746961746f
      720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
      2c57`)
	if !bytes.Equal(gs, wantGS) {
		t.Fatalf("generator_string =\n%x\nwant\n%x", gs, wantGS)
	}
	// ZPAD length 109 is stated by the draft.
	if zpad := len(gs) - len(LVCat([]byte(DSI), vecPRS)) - 1 - len(LVCat(vecCI, sid)); zpad != 109 {
		t.Errorf("ZPAD length = %d, want 109", zpad)
	}
	h := HashGeneratorString(vecPRS, vecCI, sid)
	if want := unhex(t, "03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755ee4aed1d3"); !bytes.Equal(h[:], want) {
		t.Errorf("hash generator string = %x, want %x", h, want)
	}
	u := DecodeUCoordinate(&h)
	if want := unhex(t, "03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755ee4aed153"); !bytes.Equal(u.Bytes(), want) {
		t.Errorf("decoded field element = %x, want %x", u.Bytes(), want)
	}
	g := CalculateGenerator(vecPRS, vecCI, sid)
	if want := unhex(t, "d04bf6d41f6a289632a2e929fa29bebd51092512a7829fdde7d314b62f05a73f"); !bytes.Equal(g[:], want) {
		t.Errorf("generator g = %x, want %x", g, want)
	}
}

func loadDraftJSON(t *testing.T) (map[string]string, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("../../vectors/cpace/draft-irtf-cfrg-cpace-21.json")
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		G25519       map[string]string `json:"G_25519"`
		X25519Points map[string]string `json:"X25519_points"`
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	return all.G25519, all.X25519Points
}

func TestDraftJSONExchange(t *testing.T) {
	v, _ := loadDraftJSON(t)
	prs, ci, sid := unhex(t, v["PRS"]), unhex(t, v["CI"]), unhex(t, v["sid"])
	ya, yb := to32(t, unhex(t, v["ya"])), to32(t, unhex(t, v["yb"]))
	ada, adb := unhex(t, v["ADa"]), unhex(t, v["ADb"])

	g := CalculateGenerator(prs, ci, sid)
	if !bytes.Equal(g[:], unhex(t, v["g"])) {
		t.Fatalf("g = %X, want %s", g, v["g"])
	}
	var bigYa, bigYb, ka, kb [32]byte
	if X25519(&bigYa, ya, &g) != 0 || X25519(&bigYb, yb, &g) != 0 {
		t.Fatal("unexpected identity")
	}
	if !bytes.Equal(bigYa[:], unhex(t, v["Ya"])) {
		t.Errorf("Ya = %X, want %s", bigYa, v["Ya"])
	}
	if !bytes.Equal(bigYb[:], unhex(t, v["Yb"])) {
		t.Errorf("Yb = %X, want %s", bigYb, v["Yb"])
	}
	X25519(&ka, ya, &bigYb)
	X25519(&kb, yb, &bigYa)
	if !bytes.Equal(ka[:], unhex(t, v["K"])) || ka != kb {
		t.Errorf("K = %X / %X, want %s", ka, kb, v["K"])
	}
	if got := ISKIR(sid, ka[:], bigYa[:], ada, bigYb[:], adb); !bytes.Equal(got[:], unhex(t, v["ISK_IR"])) {
		t.Errorf("ISK_IR = %X, want %s", got, v["ISK_IR"])
	}
	if got := ISKOC(sid, ka[:], bigYa[:], ada, bigYb[:], adb); !bytes.Equal(got[:], unhex(t, v["ISK_SY"])) {
		t.Errorf("ISK_SY = %X, want %s", got, v["ISK_SY"])
	}
	if got := SIDOutputIR(bigYa[:], ada, bigYb[:], adb); !bytes.Equal(got[:], unhex(t, v["sid_output_ir"])) {
		t.Errorf("sid_output_ir = %X, want %s", got, v["sid_output_ir"])
	}
	if got := SIDOutputOC(bigYa[:], ada, bigYb[:], adb); !bytes.Equal(got[:], unhex(t, v["sid_output_oc"])) {
		t.Errorf("sid_output_oc = %X, want %s", got, v["sid_output_oc"])
	}
	// The draft text also gives the transcripts themselves.
	wantIR := unhex(t, `201d13c89278cdadd826f6d8d7f887701430f8380ddc17611cdd6dc9
      89ce0c9f320341446120248cccf6d5cdc3646f0ad593f9e6cef4e69d
      4945f8372e623512ecea3218562303414462`)
	if got := TranscriptIR(bigYa[:], ada, bigYb[:], adb); !bytes.Equal(got, wantIR) {
		t.Errorf("transcript_ir = %x, want %x", got, wantIR)
	}
}

// TestLowOrderPoints follows the draft's section "Test vectors for
// G_X25519.scalar_mult_vfy: low order points": every uN must give qN, and
// exactly u0..u5 and u7 must abort (result G.I). u6, u8..ub only look like
// low-order points when bit 255 is not masked; they must not abort.
func TestLowOrderPoints(t *testing.T) {
	s := to32(t, unhex(t, "af46e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449aff"))
	zero := strings.Repeat("00", 32)
	cases := []struct {
		name, u, q string
		abort      bool
	}{
		{"u0", "0000000000000000000000000000000000000000000000000000000000000000", zero, true},
		{"u1", "0100000000000000000000000000000000000000000000000000000000000000", zero, true},
		{"u2", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", zero, true},
		{"u3", "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", zero, true},
		{"u4", "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", zero, true},
		{"u5", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", zero, true},
		{"u6", "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "d8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806", false},
		{"u7", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", zero, true},
		{"u8", "dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38", false},
		{"u9", "d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "db64dafa9b8fdd136914e61461935fe92aa372cb056314e1231bc4ec12417456", false},
		{"ua", "cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880", "e062dcd5376d58297be2618c7498f55baa07d7e03184e8aada20bca28888bf7a", false},
		{"ub", "4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7", "993c6ad11c4c29da9a56f7691fd0ff8d732e49de6250b6c2e80003ff4629a175", false},
	}
	_, points := loadDraftJSON(t)
	for i, c := range cases {
		// The JSON file lists the same twelve inputs as "Invalid Y0".."Invalid Y11".
		if j := points[fmt.Sprintf("Invalid Y%d", i)]; !strings.EqualFold(j, c.u) {
			t.Errorf("%s: JSON has %s, draft text %s", c.name, j, c.u)
		}
		var q [32]byte
		isID := X25519(&q, s, to32(t, unhex(t, c.u)))
		if !bytes.Equal(q[:], unhex(t, c.q)) {
			t.Errorf("%s: scalar_mult_vfy = %x, want %s", c.name, q, c.q)
		}
		if (isID == 1) != c.abort {
			t.Errorf("%s: identity = %d, want abort=%v", c.name, isID, c.abort)
		}
	}
}

// RFC 7748 section 5.2 test vectors: an independent check of the ladder.
func TestX25519RFC7748(t *testing.T) {
	cases := []struct{ k, u, out string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
			"e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
			"c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
			"e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
			"95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
	}
	for _, c := range cases {
		var out [32]byte
		X25519(&out, to32(t, unhex(t, c.k)), to32(t, unhex(t, c.u)))
		if !bytes.Equal(out[:], unhex(t, c.out)) {
			t.Errorf("X25519 = %x, want %s", out, c.out)
		}
	}
	// One thousand iterations of the RFC's iterated test.
	k := Basepoint
	u := Basepoint
	for range 1000 {
		var out [32]byte
		X25519(&out, &k, &u)
		u = k
		k = out
	}
	if want := unhex(t, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"); !bytes.Equal(k[:], want) {
		t.Errorf("1000 iterations = %x, want %x", k, want)
	}
}

// TestX25519AgainstECDH compares the ladder with crypto/ecdh on random inputs.
func TestX25519AgainstECDH(t *testing.T) {
	f := func(scalar, point [32]byte) bool {
		var got [32]byte
		id := X25519(&got, &scalar, &point)
		priv, err := ecdh.X25519().NewPrivateKey(scalar[:])
		if err != nil {
			return false
		}
		pub, err := ecdh.X25519().NewPublicKey(point[:])
		if err != nil {
			return false
		}
		want, err := priv.ECDH(pub)
		if err != nil {
			return id == 1
		}
		return id == 0 && bytes.Equal(got[:], want)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 200}); err != nil {
		t.Error(err)
	}
}

// TestX25519Base checks the fixed-base path against the ladder, against
// crypto/ecdh, and against RFC 7748 section 6.1's key pairs.
func TestX25519Base(t *testing.T) {
	f := func(scalar [32]byte) bool {
		var fixed, ladder [32]byte
		X25519Base(&fixed, &scalar)
		X25519(&ladder, &scalar, &Basepoint)
		priv, err := ecdh.X25519().NewPrivateKey(scalar[:])
		return err == nil && fixed == ladder && bytes.Equal(fixed[:], priv.PublicKey().Bytes())
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 300}); err != nil {
		t.Error(err)
	}
	for _, kp := range []struct{ priv, pub string }{
		{"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"},
		{"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"},
	} {
		var pub [32]byte
		X25519Base(&pub, to32(t, unhex(t, kp.priv)))
		if !bytes.Equal(pub[:], unhex(t, kp.pub)) {
			t.Errorf("X25519Base(%s) = %x, want %s", kp.priv, pub, kp.pub)
		}
	}
}
