package main

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tlspake/pake/tlspake"
)

// This file defines the format of the handshake vector files
// (vectors/handshake/*.json; see vectors/README.md, "handshake/*.json").
// A file holds "inputs", which fix everything a handshake depends on, and
// "outputs", which the generate command computes from the inputs by
// running this project's client and server against each other.

// handshakeKind is the "kind" of a handshake vector file.
const handshakeKind = "tlspake-handshake"

// hsFile is one handshake vector file. The field order is the order of the
// keys in the file.
type hsFile struct {
	Kind string `json:"kind"`
	// Description says in words what the vector exercises. It is
	// generated from the inputs and outputs, so check verifies it too.
	Description string     `json:"description"`
	Inputs      hsInputs   `json:"inputs"`
	Outputs     *hsOutputs `json:"outputs,omitempty"`
}

type hsInputs struct {
	Client      hsClientInputs `json:"client"`
	Server      hsServerInputs `json:"server"`
	Application []hsStep       `json:"application,omitempty"`
	Exporter    *hsExporterIn  `json:"exporter,omitempty"`
}

// hsClientInputs is the client's configuration. All byte strings are hex.
type hsClientInputs struct {
	Code           string         `json:"code"`
	ClientIdentity string         `json:"client_identity"`
	ServerIdentity string         `json:"server_identity"`
	CipherSuites   []string       `json:"cipher_suites"`
	Groups         []string       `json:"groups"`
	KeyShares      []string       `json:"key_shares,omitempty"`
	ALPN           []string       `json:"alpn,omitempty"`
	ServerName     string         `json:"server_name,omitempty"`
	PSKs           []hsPSK        `json:"psks,omitempty"`
	Random         hsClientRandom `json:"random"`
}

// hsClientRandom is every random value the client uses, in the order the
// implementation reads them from Config.Rand.
type hsClientRandom struct {
	ClientHelloRandom   string `json:"client_hello_random"`
	MLKEMSeed           string `json:"mlkem_seed,omitempty"`
	X25519PrivateKey    string `json:"x25519_private_key"`
	SecondX25519Key     string `json:"second_x25519_private_key,omitempty"`
	Ya                  string `json:"ya,omitempty"`
	HRRMLKEMSeed        string `json:"hrr_mlkem_seed,omitempty"`
	HRRX25519PrivateKey string `json:"hrr_x25519_private_key,omitempty"`
}

// hsServerInputs is the server's configuration.
type hsServerInputs struct {
	Code           string         `json:"code"`
	ServerIdentity string         `json:"server_identity"`
	CipherSuites   []string       `json:"cipher_suites"`
	Groups         []string       `json:"groups"`
	ALPN           []string       `json:"alpn,omitempty"`
	PSKs           []hsPSK        `json:"psks,omitempty"`
	Random         hsServerRandom `json:"random"`
}

// hsServerRandom is every random value the server uses, in read order.
type hsServerRandom struct {
	Yb                string `json:"yb,omitempty"`
	SimulationPRS     string `json:"simulation_prs,omitempty"`
	SimulationISK     string `json:"simulation_isk,omitempty"`
	X25519PrivateKey  string `json:"x25519_private_key"`
	ServerHelloRandom string `json:"server_hello_random"`
}

// hsPSK is an external PSK. With PairingFrom set, Identity and Secret are
// the pairing (PROFILE.md section 5) that another vector file of the same
// directory outputs; generate copies them from it and check compares.
type hsPSK struct {
	PairingFrom string `json:"pairing_from,omitempty"`
	Identity    string `json:"identity"`
	Secret      string `json:"secret"`
	Hash        string `json:"hash"`
}

// hsStep is one step of the application exchange after the handshake.
type hsStep struct {
	From          string `json:"from"`
	Type          string `json:"type"`
	Data          string `json:"data,omitempty"`
	RequestUpdate *bool  `json:"request_update,omitempty"`
}

// Step types.
const (
	stepData       = "application_data"
	stepKeyUpdate  = "key_update"
	stepCloseWrite = "close_notify"
)

type hsExporterIn struct {
	Label   string `json:"label"`
	Context string `json:"context"`
	Length  int    `json:"length"`
}

// hsOutputs is everything generate computes.
type hsOutputs struct {
	Client            hsPartyOut   `json:"client"`
	Server            hsPartyOut   `json:"server"`
	HandshakeMessages []hsMessage  `json:"handshake_messages"`
	Finished          hsFinished   `json:"finished"`
	Records           []hsRecordJS `json:"records"`
}

// hsPartyOut is what one party computed.
type hsPartyOut struct {
	Result      hsResult       `json:"result"`
	Negotiated  *hsNegotiated  `json:"negotiated,omitempty"`
	CPace       *hsCPaceOut    `json:"cpace,omitempty"`
	KeySchedule hsKeySchedule  `json:"key_schedule"`
	TrafficKeys []hsTrafficKey `json:"traffic_keys"`
	Exporter    string         `json:"exporter,omitempty"`
	Pairing     *hsPairing     `json:"pairing,omitempty"`
}

type hsResult struct {
	Completed     bool   `json:"completed"`
	AlertSent     string `json:"alert_sent,omitempty"`
	AlertReceived string `json:"alert_received,omitempty"`
	CodeMismatch  bool   `json:"code_mismatch,omitempty"`
}

type hsNegotiated struct {
	CipherSuite       string `json:"cipher_suite"`
	Group             string `json:"group"`
	Auth              string `json:"auth"`
	PSKIdentity       string `json:"psk_identity,omitempty"`
	ALPN              string `json:"alpn,omitempty"`
	HelloRetryRequest bool   `json:"hello_retry_request,omitempty"`
}

// hsCPaceOut holds the CPace values one party computed. Simulated is set
// on a server that did not know the identities and answered with
// Yb = X25519(yb, 9); G is then the base point 9 and UnusedG the generator
// the server computes from simulation_prs only to spend the same time.
type hsCPaceOut struct {
	Simulated bool   `json:"simulated,omitempty"`
	CI        string `json:"CI"`
	SID       string `json:"sid"`
	G         string `json:"g"`
	UnusedG   string `json:"unused_g,omitempty"`
	Ya        string `json:"Ya,omitempty"`
	Yb        string `json:"Yb,omitempty"`
	K         string `json:"K,omitempty"`
	ISK       string `json:"ISK,omitempty"`
}

type hsKeySchedule struct {
	ECDHESharedSecret    string `json:"ecdhe_shared_secret,omitempty"`
	EarlySecret          string `json:"early_secret,omitempty"`
	HandshakeSecret      string `json:"handshake_secret,omitempty"`
	MasterSecret         string `json:"master_secret,omitempty"`
	ExporterMasterSecret string `json:"exporter_master_secret,omitempty"`
}

type hsTrafficKey struct {
	Name      string `json:"name"`
	Direction string `json:"direction"`
	Secret    string `json:"secret"`
	Key       string `json:"key"`
	IV        string `json:"iv"`
}

type hsPairing struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

type hsMessage struct {
	From string `json:"from"`
	Type string `json:"type"`
	Data string `json:"data"`
}

type hsFinished struct {
	Server string `json:"server,omitempty"`
	Client string `json:"client,omitempty"`
}

// hsRecordJS is one record as sent on the wire, with its decrypted
// content.
type hsRecordJS struct {
	From        string `json:"from"`
	Protection  string `json:"protection"`
	ContentType string `json:"content_type"`
	Summary     string `json:"summary"`
	Content     string `json:"content"`
	Wire        string `json:"wire"`
}

// encodeHandshakeFile returns the canonical encoding of f: two-space
// indentation, keys in struct order, lower-case hex, no HTML escaping, and
// a final newline.
func encodeHandshakeFile(f *hsFile) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeHandshakeFile parses a handshake vector file strictly: unknown
// keys anywhere are an error, so that a misspelt key is not ignored.
func decodeHandshakeFile(data []byte) (*hsFile, error) {
	var f hsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, describeJSONError(data, err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if f.Kind != handshakeKind {
		return nil, fmt.Errorf(`"kind" is %q, want %q`, f.Kind, handshakeKind)
	}
	return &f, nil
}

// describeJSONError adds the line and column to a JSON syntax error.
func describeJSONError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, int(se.Offset))
		return fmt.Errorf("not valid JSON at line %d, column %d: %v", line, col, err)
	}
	var ue *json.UnmarshalTypeError
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: wrong JSON type: %v", ue.Field, err)
	}
	if msg := err.Error(); strings.Contains(msg, "unknown field") {
		return fmt.Errorf("%v (see vectors/README.md for the keys of a handshake vector)", err)
	}
	return err
}

func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// hsConfig is one party's validated inputs.
type hsConfig struct {
	code           []byte
	clientIdentity []byte // client only
	serverIdentity []byte
	suites         []uint16
	groups         []tlspake.CurveID
	keyShares      []tlspake.CurveID // client only: the groups it sends key shares for
	alpn           []string
	serverName     string
	psks           []tlspake.PSK
	pairingFrom    []string // per PSK, "" if none
	random         []randomValue
}

// randomValue is one named value of a party's random stream.
type randomValue struct {
	path  string // for messages: inputs.client.random.ya
	name  string // ya
	value []byte
}

// hsValidated is a vector's inputs, decoded and checked.
type hsValidated struct {
	client, server hsConfig
	steps          []step
	exporter       *hsExporterIn // nil: the handshake fails, nothing to export
	exporterCtx    []byte
}

type step struct {
	path          string
	from          string // "client" or "server"
	typ           string
	data          []byte
	requestUpdate bool
}

// inputErrors collects errors about input values, each named by its path.
type inputErrors []string

func (e *inputErrors) addf(path, format string, args ...any) {
	*e = append(*e, path+": "+fmt.Sprintf(format, args...))
}

func (e inputErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return errors.New(strings.Join(e, "; "))
}

// decodeHex decodes a hex input; lower and upper case are accepted (the
// canonical form check catches upper case separately).
func decodeHex(errs *inputErrors, path, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		errs.addf(path, "not valid hex (%v)", err)
		return nil
	}
	return b
}

// decodeFixed decodes a hex input of exactly n bytes; empty means absent.
func decodeFixed(errs *inputErrors, path, s string, n int) []byte {
	if s == "" {
		return nil
	}
	b := decodeHex(errs, path, s)
	if b != nil && len(b) != n {
		errs.addf(path, "is %d bytes, want %d", len(b), n)
		return nil
	}
	return b
}

// decodeScalar decodes an X25519 scalar, which must be given clamped
// (RFC 7748 decodeScalar25519 leaves it unchanged), so that every bit of
// the file matters.
func decodeScalar(errs *inputErrors, path, s string) []byte {
	b := decodeFixed(errs, path, s, 32)
	if b == nil {
		return nil
	}
	if b[0]&7 != 0 || b[31]&0x80 != 0 || b[31]&0x40 == 0 {
		c := bytes.Clone(b)
		c[0] &= 248
		c[31] &= 127
		c[31] |= 64
		errs.addf(path, "is not clamped: X25519 would use %x; give that value so that no bit of the file is ignored", c)
		return nil
	}
	return b
}

var suiteIDs = map[string]uint16{
	"TLS_AES_128_GCM_SHA256":       tlspake.TLS_AES_128_GCM_SHA256,
	"TLS_AES_256_GCM_SHA384":       tlspake.TLS_AES_256_GCM_SHA384,
	"TLS_CHACHA20_POLY1305_SHA256": tlspake.TLS_CHACHA20_POLY1305_SHA256,
}

var groupIDs = map[string]tlspake.CurveID{
	"X25519":         tlspake.X25519,
	"X25519MLKEM768": tlspake.X25519MLKEM768,
}

func decodeSuites(errs *inputErrors, path string, names []string) []uint16 {
	if len(names) == 0 {
		errs.addf(path, "is empty; list the cipher suites by their RFC 8446 names")
	}
	var out []uint16
	for i, n := range names {
		id, ok := suiteIDs[n]
		if !ok {
			errs.addf(fmt.Sprintf("%s[%d]", path, i), "unknown cipher suite %q (known: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256)", n)
			continue
		}
		out = append(out, id)
	}
	return out
}

func decodeGroups(errs *inputErrors, path string, names []string) []tlspake.CurveID {
	if len(names) == 0 {
		errs.addf(path, "is empty; list the groups, for example [\"X25519\"]")
	}
	var out []tlspake.CurveID
	for i, n := range names {
		g, ok := groupIDs[n]
		if !ok {
			errs.addf(fmt.Sprintf("%s[%d]", path, i), "unknown group %q (known: X25519, X25519MLKEM768)", n)
			continue
		}
		out = append(out, g)
	}
	return out
}

func decodePSKs(errs *inputErrors, path string, in []hsPSK) ([]tlspake.PSK, []string) {
	var psks []tlspake.PSK
	var from []string
	for i, p := range in {
		pp := fmt.Sprintf("%s[%d]", path, i)
		id := decodeHex(errs, pp+".identity", p.Identity)
		secret := decodeHex(errs, pp+".secret", p.Secret)
		if len(id) == 0 {
			errs.addf(pp+".identity", "is empty")
		}
		if len(secret) == 0 {
			errs.addf(pp+".secret", "is empty")
		}
		var h crypto.Hash
		switch p.Hash {
		case "SHA-256":
			h = crypto.SHA256
		case "SHA-384":
			h = crypto.SHA384
		default:
			errs.addf(pp+".hash", "is %q, want \"SHA-256\" or \"SHA-384\"", p.Hash)
		}
		if p.PairingFrom != "" && p.Hash != "SHA-256" {
			errs.addf(pp+".hash", "a pairing is a SHA-256 PSK (PROFILE.md section 5)")
		}
		psks = append(psks, tlspake.PSK{Identity: id, Secret: secret, Hash: h})
		from = append(from, p.PairingFrom)
	}
	return psks, from
}

// validateInputs decodes and checks a vector's inputs.
func validateInputs(in *hsInputs) (*hsValidated, error) {
	var errs inputErrors
	v := &hsValidated{}
	if in.Exporter != nil {
		e := *in.Exporter
		v.exporter = &e
	}

	c, cr := in.Client, in.Client.Random
	v.client = hsConfig{
		code:           decodeHex(&errs, "inputs.client.code", c.Code),
		clientIdentity: decodeHex(&errs, "inputs.client.client_identity", c.ClientIdentity),
		serverIdentity: decodeHex(&errs, "inputs.client.server_identity", c.ServerIdentity),
		suites:         decodeSuites(&errs, "inputs.client.cipher_suites", c.CipherSuites),
		groups:         decodeGroups(&errs, "inputs.client.groups", c.Groups),
		alpn:           c.ALPN,
		serverName:     c.ServerName,
	}
	v.client.psks, v.client.pairingFrom = decodePSKs(&errs, "inputs.client.psks", c.PSKs)
	if len(v.client.code) == 0 && len(v.client.psks) == 0 {
		errs.addf("inputs.client", "needs a code or a PSK")
	}
	add := func(cfg *hsConfig, side, name, s string, n int, scalar bool) {
		path := "inputs." + side + ".random." + name
		var b []byte
		if scalar {
			b = decodeScalar(&errs, path, s)
		} else {
			b = decodeFixed(&errs, path, s, n)
		}
		if b != nil {
			cfg.random = append(cfg.random, randomValue{path, name, b})
		}
	}
	// Client read order: ClientHello.random, the first key share
	// (ML-KEM seed then X25519 key for the hybrid), ya, and after a
	// HelloRetryRequest the new key share.
	add(&v.client, "client", "client_hello_random", cr.ClientHelloRandom, 32, false)
	add(&v.client, "client", "mlkem_seed", cr.MLKEMSeed, 64, false)
	add(&v.client, "client", "x25519_private_key", cr.X25519PrivateKey, 32, true)
	add(&v.client, "client", "second_x25519_private_key", cr.SecondX25519Key, 32, true)
	add(&v.client, "client", "ya", cr.Ya, 32, true)
	add(&v.client, "client", "hrr_mlkem_seed", cr.HRRMLKEMSeed, 64, false)
	add(&v.client, "client", "hrr_x25519_private_key", cr.HRRX25519PrivateKey, 32, true)
	for _, req := range []struct{ name, s string }{
		{"client_hello_random", cr.ClientHelloRandom},
		{"x25519_private_key", cr.X25519PrivateKey},
	} {
		if req.s == "" {
			errs.addf("inputs.client.random."+req.name, "is missing")
		}
	}
	if len(v.client.code) > 0 && cr.Ya == "" {
		errs.addf("inputs.client.random.ya", "is missing: a client with a code draws the CPace scalar ya")
	}
	if len(v.client.code) == 0 && cr.Ya != "" {
		errs.addf("inputs.client.random.ya", "is given but the client has no code, so it runs no CPace")
	}
	if len(v.client.groups) > 0 {
		v.client.keyShares = v.client.groups[:1]
		if c.KeyShares != nil {
			v.client.keyShares = decodeGroups(&errs, "inputs.client.key_shares", c.KeyShares)
		}
		// This implementation sends one key share, for the first group, or
		// with its default groups one for each.
		both := []tlspake.CurveID{tlspake.X25519MLKEM768, tlspake.X25519}
		switch {
		case slices.Equal(v.client.keyShares, v.client.groups[:1]):
			if c.KeyShares != nil {
				errs.addf("inputs.client.key_shares", "is the default (one share, for the first group); omit it")
			}
		case slices.Equal(v.client.keyShares, both) && slices.Equal(v.client.groups, both):
		default:
			errs.addf("inputs.client.key_shares", "the client sends a key share for its first group, or for X25519MLKEM768 and X25519 when its groups are exactly those two")
		}
		if (len(v.client.keyShares) == 2) != (cr.SecondX25519Key != "") {
			errs.addf("inputs.client.random.second_x25519_private_key", "must be given exactly when the client sends a second key share (for X25519)")
		}
		hybrid := v.client.groups[0] == tlspake.X25519MLKEM768
		if hybrid != (cr.MLKEMSeed != "") {
			errs.addf("inputs.client.random.mlkem_seed", "must be given exactly when the first group is X25519MLKEM768")
		}
	}
	if cr.HRRMLKEMSeed != "" && cr.HRRX25519PrivateKey == "" {
		errs.addf("inputs.client.random.hrr_x25519_private_key", "is missing: the hybrid key share also has an X25519 key")
	}

	s, sr := in.Server, in.Server.Random
	v.server = hsConfig{
		code:           decodeHex(&errs, "inputs.server.code", s.Code),
		serverIdentity: decodeHex(&errs, "inputs.server.server_identity", s.ServerIdentity),
		suites:         decodeSuites(&errs, "inputs.server.cipher_suites", s.CipherSuites),
		groups:         decodeGroups(&errs, "inputs.server.groups", s.Groups),
		alpn:           s.ALPN,
	}
	v.server.psks, v.server.pairingFrom = decodePSKs(&errs, "inputs.server.psks", s.PSKs)
	if len(v.server.code) == 0 && len(v.server.psks) == 0 {
		errs.addf("inputs.server", "needs a code or a PSK")
	}
	// Server read order: yb (or, for unknown identities, yb, the dummy
	// PRS and the random ISK), then its X25519 key, then
	// ServerHello.random.
	add(&v.server, "server", "yb", sr.Yb, 32, true)
	add(&v.server, "server", "simulation_prs", sr.SimulationPRS, 32, false)
	add(&v.server, "server", "simulation_isk", sr.SimulationISK, 64, false)
	add(&v.server, "server", "x25519_private_key", sr.X25519PrivateKey, 32, true)
	add(&v.server, "server", "server_hello_random", sr.ServerHelloRandom, 32, false)
	for _, req := range []struct{ name, s string }{
		{"x25519_private_key", sr.X25519PrivateKey},
		{"server_hello_random", sr.ServerHelloRandom},
	} {
		if req.s == "" {
			errs.addf("inputs.server.random."+req.name, "is missing")
		}
	}
	if (sr.SimulationPRS == "") != (sr.SimulationISK == "") || (sr.SimulationPRS != "" && sr.Yb == "") {
		errs.addf("inputs.server.random", "a simulated CPace run needs yb, simulation_prs and simulation_isk together")
	}

	seen := map[string]bool{}
	for i, st := range in.Application {
		p := fmt.Sprintf("inputs.application[%d]", i)
		if st.From != "client" && st.From != "server" {
			errs.addf(p+".from", "is %q, want \"client\" or \"server\"", st.From)
			continue
		}
		if seen[st.From+" closed"] {
			errs.addf(p, "the %s already sent close_notify", st.From)
		}
		x := step{path: p, from: st.From, typ: st.Type}
		switch st.Type {
		case stepData:
			x.data = decodeHex(&errs, p+".data", st.Data)
			if len(x.data) == 0 || len(x.data) > 1<<14 {
				errs.addf(p+".data", "must be 1 to 16384 bytes (one record)")
			}
			if st.RequestUpdate != nil {
				errs.addf(p+".request_update", "belongs to key_update steps only")
			}
			seen[st.From+" pending"] = false
		case stepKeyUpdate:
			if st.Data != "" {
				errs.addf(p+".data", "belongs to application_data steps only")
			}
			if st.RequestUpdate == nil {
				errs.addf(p+".request_update", "is missing (true or false)")
			} else {
				x.requestUpdate = *st.RequestUpdate
			}
			seen[st.From+" pending"] = true
		case stepCloseWrite:
			if st.Data != "" || st.RequestUpdate != nil {
				errs.addf(p, "close_notify takes no data or request_update")
			}
			seen[st.From+" closed"] = true
			seen[st.From+" pending"] = false
		default:
			errs.addf(p+".type", "is %q, want %q, %q or %q", st.Type, stepData, stepKeyUpdate, stepCloseWrite)
		}
		v.steps = append(v.steps, x)
	}
	for _, side := range []string{"client", "server"} {
		if seen[side+" pending"] {
			errs.addf("inputs.application", "a key_update from the %s must be followed by an application_data or close_notify step from the %s, with which the peer reads it", side, side)
		}
	}

	if e := in.Exporter; e != nil {
		v.exporterCtx = decodeHex(&errs, "inputs.exporter.context", e.Context)
		if e.Label == "" {
			errs.addf("inputs.exporter.label", "is empty")
		}
		if e.Length < 1 || e.Length > 255*32 {
			errs.addf("inputs.exporter.length", "is %d, want 1 to 8160", e.Length)
		}
	}
	return v, errs.err()
}
