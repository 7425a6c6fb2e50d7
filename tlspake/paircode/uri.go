package paircode

import (
	"fmt"
	"net/url"
	"strings"
)

// URIScheme is the scheme of the pairing URI carried in a label's QR code.
const URIScheme = "tlspake"

// Invite is what a device label carries: the code, the device's PAKE
// server identity, and optionally an address hint. Its URI form is
//
//	tlspake:XXXXX-XXXXX?id=IDENTITY&addr=HOST:PORT
//
// where id and addr are optional and percent-encoded as in URL queries.
// The URI contains the code: treat it as a secret.
type Invite struct {
	Code     Code
	Identity string
	Addr     string
}

// URI returns the invite's URI.
func (inv Invite) URI() string {
	q := url.Values{}
	if inv.Identity != "" {
		q.Set("id", inv.Identity)
	}
	if inv.Addr != "" {
		q.Set("addr", inv.Addr)
	}
	s := URIScheme + ":" + inv.Code.Printed()
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// IsURI reports whether s looks like a pairing URI rather than a code.
func IsURI(s string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), URIScheme+":")
}

// ParseURI reads a pairing URI. The code inside is parsed with Parse.
func ParseURI(s string) (Invite, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || !strings.EqualFold(u.Scheme, URIScheme) || u.Opaque == "" {
		return Invite{}, fmt.Errorf("paircode: %q is not a pairing URI (want %s:XXXXX-XXXXX, optionally followed by ?id=ID&addr=HOST:PORT)", redactURI(s), URIScheme)
	}
	code, err := Parse(u.Opaque)
	if err != nil {
		return Invite{}, err
	}
	q := u.Query()
	return Invite{Code: code, Identity: q.Get("id"), Addr: q.Get("addr")}, nil
}

// redactURI keeps a URI's scheme and query but hides its code.
func redactURI(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		rest := s[i+1:]
		if j := strings.IndexByte(rest, '?'); j >= 0 {
			return s[:i+1] + "…" + rest[j:]
		}
		return s[:i+1] + "…"
	}
	return "…"
}
