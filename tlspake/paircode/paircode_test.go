package paircode

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// luhnReference computes the check symbol straight from PROFILE.md's
// wording, independently of luhnSum: from the right, factors 2, 1, 2, ...;
// each product p adds p/32 + p%32; check = (32 - sum%32) % 32.
func luhnReference(payload string) byte {
	sum := 0
	for i := 0; i < len(payload); i++ {
		v := strings.IndexByte(Alphabet, payload[len(payload)-1-i])
		f := 2
		if i%2 == 1 {
			f = 1
		}
		p := v * f
		sum += p/32 + p%32
	}
	return Alphabet[(32-sum%32)%32]
}

func TestCheckSymbol(t *testing.T) {
	for _, payload := range []string{"000000000", "ZZZZZZZZZ", "123456789", "ABCDEFGHJ", "K7Q2M9XH4"} {
		want := payload + string(luhnReference(payload))
		c, err := Parse(want)
		if err != nil {
			t.Fatalf("Parse(%s): %v", want, err)
		}
		if c.Canonical() != want {
			t.Errorf("canonical %s, want %s", c.Canonical(), want)
		}
	}
	// Worked example: payload 000000001 -> the 1 has factor 2 -> sum 2 -> check (32-2)%32 = 30 = 'Y'.
	if got := luhnReference("000000001"); got != 'Y' {
		t.Fatalf("reference check = %c, want Y", got)
	}
	if _, err := Parse("00000-0001Y"); err != nil {
		t.Errorf("00000-0001Y rejected: %v", err)
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		p := c.Printed()
		if len(p) != 11 || p[5] != '-' {
			t.Fatalf("printed form %q", p)
		}
		back, err := Parse(p)
		if err != nil || back != c {
			t.Fatalf("round trip of %s: %v", p, err)
		}
		if !bytes.Equal(c.PRS(), []byte(c.Canonical())) {
			t.Fatal("PRS differs from canonical form")
		}
		seen[p] = true
	}
	if len(seen) < 200 {
		t.Errorf("only %d distinct codes in 200", len(seen))
	}
	// Deterministic with an injected reader: bytes are reduced mod 32.
	c, err := Generate(bytes.NewReader([]byte{0, 1, 2, 3, 4, 5, 6, 7, 32 + 8}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Canonical(), "012345678"+string(luhnReference("012345678")); got != want {
		t.Errorf("Generate = %s, want %s", got, want)
	}
	if _, err := Generate(bytes.NewReader(make([]byte, 3))); err == nil {
		t.Error("short randomness accepted")
	}
}

func TestParseNormalisation(t *testing.T) {
	c, _ := Parse("K7Q2M9XH4" + string(luhnReference("K7Q2M9XH4")))
	canon := c.Canonical()
	lower := strings.ToLower(canon)
	for _, in := range []string{
		canon,
		c.Printed(),
		lower[:5] + " - " + lower[5:],
		"\t" + canon[:3] + " " + canon[3:] + " ",
		strings.Join(strings.Split(canon, ""), "-"),
	} {
		got, err := Parse(in)
		if err != nil || got != c {
			t.Errorf("Parse(%q) = %v, %v", in, got.Canonical(), err)
		}
	}
	// I and L read as 1, O as 0.
	base := "10000000" + "0"
	code := base + string(luhnReference(base))
	for _, typed := range []string{"I" + code[1:], "l" + code[1:], "L" + strings.ReplaceAll(code[1:], "0", "o"), "i" + strings.ReplaceAll(code[1:], "0", "O")} {
		got, err := Parse(typed)
		if err != nil || got.Canonical() != code {
			t.Errorf("Parse(%q) = %s, %v; want %s", typed, got.Canonical(), err, code)
		}
	}
}

func TestParseErrors(t *testing.T) {
	valid := "K7Q2M9XH4" + string(luhnReference("K7Q2M9XH4"))
	cases := []struct {
		in   string
		kind ErrorKind
		pos  int
		char rune
	}{
		{"K7Q2M-9XH4U", BadCharacter, 11, 'U'},
		{"K7Q2M_9XH4" + valid[9:], BadCharacter, 6, '_'},
		{"ı" + valid[1:], BadCharacter, 1, 'ı'}, // dotless i: no Unicode case mapping
		{"K7Q2M-9XH4" + "é", BadCharacter, 11, 'é'},
		{"K７Q2M9XH4" + valid[9:], BadCharacter, 2, '７'}, // full-width digit
		{valid[:9], WrongLength, 0, 0},
		{valid + "0", WrongLength, 0, 0},
		{"", WrongLength, 0, 0},
		{"-- --", WrongLength, 0, 0},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Kind != c.kind {
			t.Errorf("Parse(%q) = %v, want kind %d", c.in, err, c.kind)
			continue
		}
		if c.kind == BadCharacter && (pe.Pos != c.pos || pe.Char != c.char) {
			t.Errorf("Parse(%q): char %q at %d, want %q at %d", c.in, pe.Char, pe.Pos, c.char, c.pos)
		}
		if strings.Contains(err.Error(), valid[:5]) {
			t.Errorf("error %q leaks the code", err)
		}
	}
	// Every single-symbol substitution and every adjacent transposition of
	// distinct symbols is caught by the check symbol.
	for i := range Length {
		for _, r := range Alphabet {
			if byte(r) == valid[i] {
				continue
			}
			typo := valid[:i] + string(r) + valid[i+1:]
			_, err := Parse(typo)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Kind != CheckMismatch {
				t.Fatalf("substitution %s accepted (%v)", typo, err)
			}
			if !strings.Contains(err.Error(), "mistyped") {
				t.Fatalf("check error does not say mistyped: %v", err)
			}
		}
	}
	for i := 0; i+1 < Length; i++ {
		if valid[i] == valid[i+1] {
			continue
		}
		swapped := valid[:i] + string(valid[i+1]) + string(valid[i]) + valid[i+2:]
		if _, err := Parse(swapped); err == nil {
			t.Errorf("transposition at %d accepted", i)
		}
	}
}

func TestRedaction(t *testing.T) {
	c, _ := Generate(nil)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "code", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %s", c, c), buf.String()} {
		if strings.Contains(s, c.Canonical()[:5]) || strings.Contains(s, c.Printed()) {
			t.Errorf("code leaked in %q", s)
		}
	}
	if !(Code{}).IsZero() || c.IsZero() {
		t.Error("IsZero")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"K7Q2M-9XH4T", "ı", "", "0000000000", "il-oO", "ZZZZZ-ZZZZZ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		// A parsed code prints and re-parses to itself, and is checked.
		back, err := Parse(c.Printed())
		if err != nil || back != c {
			t.Fatalf("round trip failed for %q", s)
		}
		if luhnSum(c.sym[:], 1)%32 != 0 {
			t.Fatal("accepted a code failing the check")
		}
	})
}

func TestURI(t *testing.T) {
	c, _ := Generate(nil)
	for _, inv := range []Invite{
		{Code: c},
		{Code: c, Identity: "printer.local"},
		{Code: c, Identity: "a b&c", Addr: "192.168.1.20:8443"},
	} {
		u := inv.URI()
		if !IsURI(u) {
			t.Errorf("IsURI(%q) = false", u)
		}
		got, err := ParseURI(u)
		if err != nil || got != inv {
			t.Errorf("ParseURI(%q) = %+v, %v", u, got, err)
		}
	}
	if got := (Invite{Code: c, Identity: "cam"}).URI(); got != "tlspake:"+c.Printed()+"?id=cam" {
		t.Errorf("URI = %q", got)
	}
	for _, bad := range []string{"http://x", "tlspake:", "tlspake:12345", "tlspake:" + c.Printed()[:9] + "Q"} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) accepted", bad)
		}
	}
	if IsURI(c.Printed()) {
		t.Error("a code looks like a URI")
	}
}
