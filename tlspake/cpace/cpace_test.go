package cpace

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func draftVector(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../vectors/cpace/draft-irtf-cfrg-cpace-21.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(all["G_25519"], &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDraftVector runs the draft's X25519/SHA-512 vector through the public
// API, with the scalars injected as the randomness.
func TestDraftVector(t *testing.T) {
	v := draftVector(t)
	for _, setting := range []Setting{InitiatorResponder, Symmetric} {
		in := &Inputs{PRS: mustHex(t, v["PRS"]), CI: mustHex(t, v["CI"]), SID: mustHex(t, v["sid"]), Setting: setting}
		a, err := NewInitiator(in, mustHex(t, v["ADa"]), bytes.NewReader(mustHex(t, v["ya"])))
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewResponder(in, mustHex(t, v["ADb"]), bytes.NewReader(mustHex(t, v["yb"])))
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Message(); !bytes.Equal(got, mustHex(t, v["Ya"])) {
			t.Fatalf("Ya = %X, want %s", got, v["Ya"])
		}
		if got := b.Message(); !bytes.Equal(got, mustHex(t, v["Yb"])) {
			t.Fatalf("Yb = %X, want %s", got, v["Yb"])
		}
		ra, err := a.Finish(b.Message(), mustHex(t, v["ADb"]))
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Finish(a.Message(), mustHex(t, v["ADa"]))
		if err != nil {
			t.Fatal(err)
		}
		wantISK, wantSID := v["ISK_IR"], v["sid_output_ir"]
		if setting == Symmetric {
			wantISK, wantSID = v["ISK_SY"], v["sid_output_oc"]
		}
		for name, r := range map[string]*Result{"initiator": ra, "responder": rb} {
			if !bytes.Equal(r.ISK, mustHex(t, wantISK)) {
				t.Errorf("setting %d %s: ISK = %X, want %s", setting, name, r.ISK, wantISK)
			}
			if !bytes.Equal(r.SIDOutput, mustHex(t, wantSID)) {
				t.Errorf("setting %d %s: sid_output = %X, want %s", setting, name, r.SIDOutput, wantSID)
			}
		}
		// The scalar is wiped and a second Finish is refused.
		if a.p.y != [32]byte{} || b.p.y != [32]byte{} {
			t.Error("secret scalar not zeroed after Finish")
		}
		if _, err := a.Finish(b.Message(), nil); err == nil {
			t.Error("second Finish succeeded")
		}
	}
}

func TestMismatch(t *testing.T) {
	base := Inputs{PRS: []byte("right"), CI: []byte("ci"), SID: []byte("sid")}
	variants := map[string]Inputs{
		"PRS":     {PRS: []byte("wrong"), CI: base.CI, SID: base.SID},
		"CI":      {PRS: base.PRS, CI: []byte("other"), SID: base.SID},
		"SID":     {PRS: base.PRS, CI: base.CI, SID: []byte("other")},
		"Setting": {PRS: base.PRS, CI: base.CI, SID: base.SID, Setting: Symmetric},
	}
	for name, other := range variants {
		a, _ := NewInitiator(&base, nil, nil)
		b, _ := NewResponder(&other, nil, nil)
		ra, err1 := a.Finish(b.Message(), nil)
		rb, err2 := b.Finish(a.Message(), nil)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", name, err1, err2)
		}
		if bytes.Equal(ra.ISK, rb.ISK) {
			t.Errorf("different %s gave the same ISK", name)
		}
	}
	// Different associated data changes the transcript too.
	a, _ := NewInitiator(&base, []byte("x"), nil)
	b, _ := NewResponder(&base, nil, nil)
	ra, _ := a.Finish(b.Message(), nil)
	rb, _ := b.Finish(a.Message(), []byte("y"))
	if bytes.Equal(ra.ISK, rb.ISK) {
		t.Error("different ADa views gave the same ISK")
	}
}

func TestInvalidShares(t *testing.T) {
	in := &Inputs{PRS: []byte("pw")}
	for _, n := range []int{0, 1, 31, 33, 64} {
		b, _ := NewResponder(in, nil, nil)
		_, err := b.Finish(make([]byte, n), nil)
		var ise *InvalidShareError
		if !errors.As(err, &ise) || ise.Identity || ise.Length != n {
			t.Errorf("length %d: err = %v", n, err)
		}
	}
	// Low-order points from the draft's table must abort on both sides.
	for _, u := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		b, _ := NewResponder(in, nil, nil)
		_, err := b.Finish(mustHex(t, u), nil)
		var ise *InvalidShareError
		if !errors.As(err, &ise) || !ise.Identity {
			t.Errorf("responder accepted low-order %s: %v", u, err)
		}
		a, _ := NewInitiator(in, nil, nil)
		if _, err := a.Finish(mustHex(t, u), nil); !errors.As(err, &ise) || !ise.Identity {
			t.Errorf("initiator accepted low-order %s: %v", u, err)
		}
	}
	// u6 has bit 255 set and is not low order once it is masked.
	b, _ := NewResponder(in, nil, nil)
	if _, err := b.Finish(mustHex(t, "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), nil); err != nil {
		t.Errorf("u6 rejected: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	if _, err := NewInitiator(&Inputs{}, nil, nil); err == nil {
		t.Error("empty PRS accepted")
	}
	if _, err := NewInitiator(nil, nil, nil); err == nil {
		t.Error("nil Inputs accepted")
	}
	if _, err := NewInitiator(&Inputs{PRS: []byte("x"), Setting: 7}, nil, nil); err == nil {
		t.Error("unknown setting accepted")
	}
	if _, err := NewResponder(&Inputs{PRS: []byte("x")}, nil, bytes.NewReader(make([]byte, 5))); err == nil {
		t.Error("short randomness accepted")
	}
}

// FuzzResponderFinish feeds arbitrary peer messages to a responder: it must
// never panic, must reject every wrong length, and must accept a 32-byte
// message exactly when the shared point is not the identity.
func FuzzResponderFinish(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add([]byte{1})
	f.Add(mustHex(f, "1d13c89278cdadd826f6d8d7f887701430f8380ddc17611cdd6dc989ce0c9f32"))
	f.Add(mustHex(f, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
	f.Add(mustHex(f, "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"))
	in := &Inputs{PRS: []byte("fuzz"), SID: []byte("sid")}
	f.Fuzz(func(t *testing.T, ya []byte) {
		b, err := NewResponder(in, nil, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		res, err := b.Finish(ya, nil)
		var ise *InvalidShareError
		switch {
		case len(ya) != MessageSize:
			if !errors.As(err, &ise) || ise.Identity {
				t.Fatalf("length %d: err = %v", len(ya), err)
			}
		case err != nil:
			if !errors.As(err, &ise) || !ise.Identity {
				t.Fatalf("unexpected error %v", err)
			}
		default:
			if len(res.ISK) != ISKSize {
				t.Fatalf("ISK length %d", len(res.ISK))
			}
		}
	})
}
