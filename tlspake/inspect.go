package tlspake

import "errors"

// ClientHelloInfo is what a listener may learn from a ClientHello before
// deciding how to handle the connection (see device's front door).
type ClientHelloInfo struct {
	// HasPAKE reports the pake extension.
	HasPAKE bool
	// PSKIdentities are the offered pre-shared key identities.
	PSKIdentities [][]byte
	// ServerName is the SNI host name, or "".
	ServerName string
}

// InspectClientHello parses a ClientHello handshake message, including its
// 4-byte header, with the same parser the server uses.
func InspectClientHello(msg []byte) (*ClientHelloInfo, error) {
	if len(msg) < 4 || msg[0] != typeClientHello || int(msg[1])<<16|int(msg[2])<<8|int(msg[3]) != len(msg)-4 {
		return nil, errors.New("tlspake: not a complete ClientHello message")
	}
	h, err := parseClientHello(msg)
	if err != nil {
		return nil, err
	}
	info := &ClientHelloInfo{HasPAKE: h.hasPAKE, ServerName: h.serverName}
	for _, id := range h.pskIdentities {
		info.PSKIdentities = append(info.PSKIdentities, id.identity)
	}
	return info, nil
}
