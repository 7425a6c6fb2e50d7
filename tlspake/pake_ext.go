package tlspake

import (
	"golang.org/x/crypto/cryptobyte"
)

// pakeShare is a PAKEShare: a scheme and that scheme's message.
type pakeShare struct {
	scheme  PAKEScheme
	message []byte
}

// pakeClientHello is the PAKEClientHello carried in a ClientHello.
type pakeClientHello struct {
	clientIdentity []byte
	serverIdentity []byte
	shares         []pakeShare
}

// pakeServerHello is the PAKEServerHello carried in a ServerHello.
type pakeServerHello struct {
	share pakeShare
}

func (p *pakeClientHello) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p.clientIdentity) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p.serverIdentity) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, s := range p.shares {
			addPAKEShare(b, s)
		}
	})
	return mustBytes(&b)
}

func addPAKEShare(b *cryptobyte.Builder, s pakeShare) {
	b.AddUint16(uint16(s.scheme))
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.message) })
}

func readPAKEShare(s *cryptobyte.String, out *pakeShare) bool {
	var scheme uint16
	var msg cryptobyte.String
	if !s.ReadUint16(&scheme) || !s.ReadUint16LengthPrefixed(&msg) || len(msg) == 0 {
		return false
	}
	out.scheme = PAKEScheme(scheme)
	out.message = []byte(msg)
	return true
}

// parsePAKEClientHello decodes a PAKEClientHello. A structure that does
// not parse (trailing bytes included) is a decode_error; shares that are
// not in strictly increasing scheme order are an illegal_parameter
// (draft-ietf-tls-pake, "Server Behavior").
func parsePAKEClientHello(data []byte) (*pakeClientHello, error) {
	s := cryptobyte.String(data)
	var cid, sid, list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&cid) || !s.ReadUint16LengthPrefixed(&sid) ||
		!s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
		return nil, alertf(AlertDecodeError, "malformed pake extension in ClientHello")
	}
	p := &pakeClientHello{clientIdentity: []byte(cid), serverIdentity: []byte(sid)}
	for !list.Empty() {
		var sh pakeShare
		if !readPAKEShare(&list, &sh) {
			return nil, alertf(AlertDecodeError, "malformed PAKEShare in ClientHello")
		}
		p.shares = append(p.shares, sh)
	}
	for i := 1; i < len(p.shares); i++ {
		if p.shares[i].scheme <= p.shares[i-1].scheme {
			return nil, alertf(AlertIllegalParameter, "client PAKE shares are unsorted or duplicated")
		}
	}
	return p, nil
}

func (p *pakeServerHello) marshal() []byte {
	var b cryptobyte.Builder
	addPAKEShare(&b, p.share)
	return mustBytes(&b)
}

func parsePAKEServerHello(data []byte) (*pakeServerHello, error) {
	s := cryptobyte.String(data)
	p := new(pakeServerHello)
	if !readPAKEShare(&s, &p.share) || !s.Empty() {
		return nil, alertf(AlertDecodeError, "malformed pake extension in ServerHello")
	}
	return p, nil
}

func mustBytes(b *cryptobyte.Builder) []byte {
	out, err := b.Bytes()
	if err != nil {
		// Only oversized fields fail; callers bound their inputs.
		panic("tlspake: encoding: " + err.Error())
	}
	return out
}
