// Package negative holds the negative vectors of the tlspake-vectors
// command (vectors/negative/*.json): their format, the checker that runs
// them against our client and server, and the generator that writes them.
// See vectors/README.md.
package negative

import (
	"bytes"
	"context"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tlspake/pake/tlspake"
)

// The negative subdirectory holds Wycheproof-style negative vectors: raw
// bytes a peer sends to our server or our client, and the alert (or other
// outcome) our implementation must answer with.

// problems collects the differences found in one file.
type problems []string

func (m *problems) addf(format string, args ...any) {
	*m = append(*m, fmt.Sprintf(format, args...))
}

func (m problems) err() error {
	if len(m) == 0 {
		return nil
	}
	return errors.New(strings.Join(m, "; "))
}

// negativeKind is the "kind" of a negative vector file; negativeVersion is
// the only version of the format.
const (
	negativeKind    = "tlspake-negative"
	negativeVersion = 1
)

// negativeFile is the format of a negative vector file.
type negativeFile struct {
	Kind        string         `json:"kind"`
	Version     int            `json:"version"`
	Description string         `json:"description"`
	Source      string         `json:"source"`
	Config      negativeConfig `json:"config"`
	Cases       []negativeCase `json:"cases"`
}

// negativeConfig is the configuration of the peer under test, shared by
// every case of a file. Byte strings are hex.
type negativeConfig struct {
	// Code is the code (PRS). ClientIdentity and ServerIdentity are the
	// PAKE identities: the server under test accepts ServerIdentity (with
	// any client identity); the client under test sends both.
	Code           string `json:"code"`
	ClientIdentity string `json:"client_identity"`
	ServerIdentity string `json:"server_identity"`
	// Groups and CipherSuites are Config.Groups and Config.CipherSuites,
	// by name, in preference order.
	Groups       []string `json:"groups"`
	CipherSuites []string `json:"cipher_suites"`
	// Rand is the byte stream Config.Rand returns, from its start, for
	// each case.
	Rand string `json:"rand"`
	// PSKs are external PSKs (SHA-256): the server under test recognises
	// them (Config.GetPSK); the client under test offers them in this
	// order (Config.PSKs).
	PSKs []negativePSK `json:"psks,omitempty"`
	// RefuseAttempts gives the server under test a Config.Attempts gate
	// that refuses every code attempt.
	RefuseAttempts bool `json:"refuse_attempts,omitempty"`
}

type negativePSK struct {
	Identity string `json:"identity"`
	Secret   string `json:"secret"`
}

// negativeCase is one vector.
type negativeCase struct {
	ID      string `json:"id"`
	Comment string `json:"comment"`
	// Role is the role of our implementation: "server" (Input is what a
	// client sends to our server) or "client" (Input is what a server
	// sends to our client after its ClientHello).
	Role string `json:"role"`
	// ClientHello (role client only) is the record our client must send
	// first, given the configuration.
	ClientHello string `json:"client_hello,omitempty"`
	// Input is the bytes the peer sends, records included.
	Input string `json:"input"`
	// Interim lists the responses our implementation must send part way
	// through Input (for example a HelloRetryRequest), in order.
	Interim  []negativeInterim `json:"interim,omitempty"`
	Expected negativeExpected  `json:"expected"`
	// KnownBug, when set, says the case shows a known bug of our
	// implementation: the case must fail (it is not counted as a
	// failure, and the summary names it), and a case that passes while
	// marked is a failure, so that the mark is removed once the bug is
	// fixed.
	KnownBug string `json:"known_bug,omitempty"`
}

// negativeInterim says: once the first After bytes of Input are written,
// our implementation sends exactly Response (whole records) before
// anything more of Input is written.
type negativeInterim struct {
	After    int    `json:"after"`
	Response string `json:"response"`
}

// negativeExpected is the outcome a case requires.
type negativeExpected struct {
	// Alert is the alert our implementation must send, by name; empty
	// means it must send none.
	Alert string `json:"alert,omitempty"`
	// Protected says the alert is sent under traffic keys (it appears on
	// the wire as an application_data record); otherwise it is a
	// plaintext alert record.
	Protected bool `json:"protected,omitempty"`
	// Error is a class of the error the handshake returns (see
	// negativeErrors).
	Error string `json:"error,omitempty"`
	// Received is the alert the handshake error reports as received from
	// the peer.
	Received string `json:"received,omitempty"`
}

// negativeErrors are the values of "error": each is a sentinel error the
// handshake error must match with errors.Is.
var negativeErrors = map[string]error{
	"unexpected_eof":   io.ErrUnexpectedEOF,
	"code_mismatch":    tlspake.ErrCodeMismatch,
	"not_pake_peer":    tlspake.ErrNotPAKEPeer,
	"attempts_refused": tlspake.ErrAttemptsRefused,
	"psk_rejected":     tlspake.ErrPSKRejected,
}

// alertByName maps the names tlspake.Alert prints to alerts.
var alertByName = func() map[string]tlspake.Alert {
	m := make(map[string]tlspake.Alert)
	for i := range 256 {
		a := tlspake.Alert(i)
		if s := a.String(); !strings.HasPrefix(s, "alert(") {
			m[s] = a
		}
	}
	return m
}()

var groupByName = map[string]tlspake.CurveID{
	tlspake.X25519.String():         tlspake.X25519,
	tlspake.X25519MLKEM768.String(): tlspake.X25519MLKEM768,
}

var suiteByName = func() map[string]uint16 {
	m := make(map[string]uint16)
	for _, id := range []uint16{tlspake.TLS_AES_128_GCM_SHA256, tlspake.TLS_AES_256_GCM_SHA384, tlspake.TLS_CHACHA20_POLY1305_SHA256} {
		m[tlspake.CipherSuiteName(id)] = id
	}
	return m
}()

// Time limits of one case: the handshake of the implementation, and each
// wait of the checker for bytes from it.
const (
	negativeHandshakeTimeout = 5 * time.Second
	negativeCaseTimeout      = 10 * time.Second
)

// negativeSetup is a parsed configuration.
type negativeSetup struct {
	code, clientID, serverID []byte
	groups                   []tlspake.CurveID
	suites                   []uint16
	rand                     []byte
	psks                     []tlspake.PSK
	refuse                   bool
}

func (cfg *negativeConfig) parse() (*negativeSetup, error) {
	s := new(negativeSetup)
	var err error
	for _, f := range []struct {
		name string
		hex  string
		dst  *[]byte
	}{
		{"code", cfg.Code, &s.code},
		{"client_identity", cfg.ClientIdentity, &s.clientID},
		{"server_identity", cfg.ServerIdentity, &s.serverID},
		{"rand", cfg.Rand, &s.rand},
	} {
		if *f.dst, err = hex.DecodeString(f.hex); err != nil {
			return nil, fmt.Errorf("config.%s is not valid hex: %v", f.name, err)
		}
	}
	if len(s.rand) == 0 {
		return nil, errors.New("config.rand is empty; give the bytes Config.Rand returns")
	}
	if len(s.code) == 0 && len(cfg.PSKs) == 0 {
		return nil, errors.New("config.code is empty and there are no config.psks")
	}
	if len(cfg.Groups) == 0 || len(cfg.CipherSuites) == 0 {
		return nil, errors.New("config.groups and config.cipher_suites must be given (the defaults may change)")
	}
	for _, g := range cfg.Groups {
		id, ok := groupByName[g]
		if !ok {
			return nil, fmt.Errorf("config.groups: unknown group %q", g)
		}
		s.groups = append(s.groups, id)
	}
	for _, n := range cfg.CipherSuites {
		id, ok := suiteByName[n]
		if !ok {
			return nil, fmt.Errorf("config.cipher_suites: unknown cipher suite %q", n)
		}
		s.suites = append(s.suites, id)
	}
	for i, p := range cfg.PSKs {
		id, err1 := hex.DecodeString(p.Identity)
		secret, err2 := hex.DecodeString(p.Secret)
		if err1 != nil || err2 != nil || len(id) == 0 || len(secret) == 0 {
			return nil, fmt.Errorf("config.psks[%d]: identity and secret must be non-empty hex", i)
		}
		s.psks = append(s.psks, tlspake.PSK{Identity: id, Secret: secret, Hash: crypto.SHA256})
	}
	s.refuse = cfg.RefuseAttempts
	return s, nil
}

// randStream is Config.Rand for one case: the configured bytes, then
// io.EOF. It remembers running out, so that a failure can say so.
type randStream struct {
	mu        sync.Mutex
	data      []byte
	exhausted bool
}

func (r *randStream) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.data) == 0 && len(p) > 0 {
		r.exhausted = true
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func (r *randStream) ranOut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exhausted
}

// refuseAll is an AttemptGate that refuses every code attempt.
type refuseAll struct{}

func (refuseAll) Begin(tlspake.AttemptInfo) (func(bool), bool) { return func(bool) {}, false }

// config returns the tlspake.Config of our implementation in role, with
// Config.Rand reading rs.
func (s *negativeSetup) config(role string, rs *randStream) *tlspake.Config {
	cfg := &tlspake.Config{
		Code:             s.code,
		ServerIdentity:   s.serverID,
		Groups:           s.groups,
		CipherSuites:     s.suites,
		HandshakeTimeout: negativeHandshakeTimeout,
		Rand:             rs,
	}
	switch role {
	case "client":
		cfg.ClientIdentity = s.clientID
		cfg.PSKs = s.psks
	case "server":
		if len(s.psks) > 0 {
			psks := s.psks
			cfg.GetPSK = func(id []byte) (tlspake.PSK, bool) {
				for _, p := range psks {
					if bytes.Equal(p.Identity, id) {
						return p, true
					}
				}
				return tlspake.PSK{}, false
			}
		}
		if s.refuse {
			cfg.Attempts = refuseAll{}
		}
	}
	return cfg
}

// parsedCase is a case with its byte strings decoded.
type parsedCase struct {
	*negativeCase
	clientHello []byte
	input       []byte
	interim     [][]byte
}

// CheckFile checks the negative vector file name of fsys against our
// implementation. It returns a summary ("N cases") or an error naming each
// case that fails and what differs, separated by "; ".
func CheckFile(fsys fs.FS, name string) (string, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	var f negativeFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return "", fmt.Errorf("malformed %s file: %v", negativeKind, err)
	}
	if f.Kind != negativeKind {
		return "", fmt.Errorf(`"kind" is %q, want %q; see vectors/README.md`, f.Kind, negativeKind)
	}
	if f.Version != negativeVersion {
		return "", fmt.Errorf(`"version" is %d; this checker reads version %d`, f.Version, negativeVersion)
	}
	if f.Description == "" {
		return "", errors.New(`"description" is empty; say what the file covers`)
	}
	setup, err := f.Config.parse()
	if err != nil {
		return "", err
	}
	if len(f.Cases) == 0 {
		return "", errors.New(`"cases" is empty; nothing to check`)
	}
	var cases []*parsedCase
	var m problems
	seen := make(map[string]bool)
	for i := range f.Cases {
		c := &f.Cases[i]
		label := c.ID
		if label == "" {
			label = fmt.Sprintf("#%d", i)
		}
		if seen[c.ID] {
			m.addf("case %s: id used twice", label)
			continue
		}
		seen[c.ID] = true
		pc, err := parseNegativeCase(c)
		if err != nil {
			m.addf("case %s: %v", label, err)
			continue
		}
		cases = append(cases, pc)
	}
	if err := m.err(); err != nil {
		return "", err
	}
	var known []string
	for _, c := range cases {
		ps := runNegativeCase(setup, c)
		switch {
		case c.KnownBug == "":
			for _, p := range ps {
				m.addf("case %s: %s", c.ID, p)
			}
		case len(ps) == 0:
			m.addf("case %s: passes but is marked known_bug (%s); the bug looks fixed: remove the mark (in the generator) and regenerate", c.ID, c.KnownBug)
		default:
			known = append(known, c.ID)
		}
	}
	if err := m.err(); err != nil {
		return "", err
	}
	summary := fmt.Sprintf("%d cases", len(cases))
	if len(known) > 0 {
		summary += fmt.Sprintf("; %d known bug(s), still failing: %s", len(known), strings.Join(known, ", "))
	}
	return summary, nil
}

// parseNegativeCase checks a case's fields and decodes its byte strings.
func parseNegativeCase(c *negativeCase) (*parsedCase, error) {
	if c.ID == "" {
		return nil, errors.New(`"id" is empty`)
	}
	pc := &parsedCase{negativeCase: c}
	var err error
	if pc.input, err = hex.DecodeString(c.Input); err != nil || len(pc.input) == 0 {
		return nil, fmt.Errorf(`"input" must be non-empty hex (%v)`, err)
	}
	switch c.Role {
	case "server":
		if c.ClientHello != "" {
			return nil, errors.New(`"client_hello" is for role "client" only`)
		}
	case "client":
		if pc.clientHello, err = hex.DecodeString(c.ClientHello); err != nil || len(pc.clientHello) == 0 {
			return nil, fmt.Errorf(`role "client" needs "client_hello", the record our client sends first, as hex (%v)`, err)
		}
	default:
		return nil, fmt.Errorf(`"role" is %q, want "server" or "client"`, c.Role)
	}
	prev := 0
	for i, st := range c.Interim {
		if st.After <= prev || st.After > len(pc.input) {
			return nil, fmt.Errorf(`interim[%d]: "after" must be increasing, from 1 to the length of input (%d), got %d`, i, len(pc.input), st.After)
		}
		prev = st.After
		resp, err := hex.DecodeString(st.Response)
		if err != nil || len(resp) == 0 {
			return nil, fmt.Errorf(`interim[%d]: "response" must be non-empty hex (%v)`, i, err)
		}
		pc.interim = append(pc.interim, resp)
	}
	e := c.Expected
	if e.Alert == "" && e.Error == "" && e.Received == "" {
		return nil, errors.New(`"expected" needs "alert", "error" or "received"`)
	}
	for _, a := range []string{e.Alert, e.Received} {
		if _, ok := alertByName[a]; a != "" && !ok {
			return nil, fmt.Errorf("unknown alert name %q", a)
		}
	}
	if e.Protected && e.Alert == "" {
		return nil, errors.New(`"protected" needs "alert"`)
	}
	if _, ok := negativeErrors[e.Error]; e.Error != "" && !ok {
		names := make([]string, 0, len(negativeErrors))
		for k := range negativeErrors {
			names = append(names, k)
		}
		slices.Sort(names)
		return nil, fmt.Errorf(`unknown "error" %q (known: %s)`, e.Error, strings.Join(names, ", "))
	}
	return pc, nil
}

// wireRecord is a record our implementation sent.
type wireRecord struct {
	typ  uint8
	body []byte
	raw  []byte
}

func (r wireRecord) String() string {
	switch {
	case r.typ == 21 && len(r.body) == 2:
		return fmt.Sprintf("alert %02x%02x (%v)", r.body[0], r.body[1], tlspake.Alert(r.body[1]))
	case r.typ == 22 && len(r.body) > 0:
		return fmt.Sprintf("handshake record (message type %d, %d bytes)", r.body[0], len(r.body))
	case r.typ == 23:
		return fmt.Sprintf("protected record (%d bytes)", len(r.body))
	}
	return fmt.Sprintf("record of type %d (%d bytes)", r.typ, len(r.body))
}

func describeRecords(recs []wireRecord) string {
	if len(recs) == 0 {
		return "nothing"
	}
	s := make([]string, len(recs))
	for i, r := range recs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// readWireRecord reads one record from r.
func readWireRecord(r io.Reader) (wireRecord, error) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return wireRecord{}, err
	}
	n := int(binary.BigEndian.Uint16(hdr[3:]))
	if n > 1<<14+256 {
		return wireRecord{}, fmt.Errorf("our implementation sent a record header claiming %d bytes (%x)", n, hdr)
	}
	raw := make([]byte, 5+n)
	copy(raw, hdr)
	if _, err := io.ReadFull(r, raw[5:]); err != nil {
		return wireRecord{}, fmt.Errorf("our implementation's record was cut short: %w", err)
	}
	return wireRecord{typ: hdr[0], body: raw[5:], raw: raw}, nil
}

// readExpected reads whole records until as many bytes as want have
// come, or what has come is not a prefix of want.
func readExpected(r io.Reader, want []byte) ([]byte, error) {
	var got []byte
	for len(got) < len(want) && bytes.HasPrefix(want, got) {
		rec, err := readWireRecord(r)
		if err != nil {
			return got, err
		}
		got = append(got, rec.raw...)
	}
	return got, nil
}

// runNegativeCase runs one case against our implementation and returns
// what differs from the expectations.
func runNegativeCase(setup *negativeSetup, c *parsedCase) (problems []string) {
	impl, peer := memPipe()
	defer peer.Close()
	deadline := time.Now().Add(negativeCaseTimeout)
	peer.SetDeadline(deadline)

	rs := &randStream{data: setup.rand}
	cfg := setup.config(c.Role, rs)
	var conn *tlspake.Conn
	if c.Role == "server" {
		conn = tlspake.Server(impl, cfg)
	} else {
		conn = tlspake.Client(impl, cfg)
	}
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		err := conn.HandshakeContext(ctx)
		impl.Close()
		errc <- err
	}()
	// wait returns the handshake's error; the implementation's end is
	// closed first if it is still running, so that it returns.
	var hsErr error
	waited := false
	wait := func() error {
		if !waited {
			select {
			case hsErr = <-errc:
			case <-time.After(time.Until(deadline) + time.Second):
				impl.Close()
				hsErr = <-errc
			}
			waited = true
		}
		return hsErr
	}
	defer func() {
		peer.Close()
		wait()
		if rs.ranOut() {
			problems = append(problems, fmt.Sprintf("Config.Rand ran out of the %d bytes of config.rand (handshake error: %v)", len(setup.rand), hsErr))
		}
	}()

	if c.Role == "client" {
		got, err := readExpected(peer, c.clientHello)
		if !bytes.Equal(got, c.clientHello) {
			return []string{fmt.Sprintf("our client's first flight differs from client_hello (regenerate the vectors if the client's use of Config.Rand changed on purpose): got %x%s", got, readNote(err))}
		}
	}
	off := 0
	for i, st := range c.Interim {
		if _, err := peer.Write(c.input[off:st.After]); err != nil {
			return []string{fmt.Sprintf("writing input: %v", err)}
		}
		off = st.After
		got, err := readExpected(peer, c.interim[i])
		if !bytes.Equal(got, c.interim[i]) {
			msg := fmt.Sprintf("interim[%d] (after %d bytes of input): our implementation sent %x%s, want %x", i, st.After, got, readNote(err), c.interim[i])
			peer.Close()
			if err := wait(); err != nil {
				msg += fmt.Sprintf(" (handshake error: %v)", err)
			}
			return []string{msg}
		}
	}
	if _, err := peer.Write(c.input[off:]); err != nil {
		return []string{fmt.Sprintf("writing input: %v", err)}
	}
	peer.CloseWrite()

	var tail []wireRecord
	var readErr error
	for {
		rec, err := readWireRecord(peer)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		tail = append(tail, rec)
	}
	err := wait()
	if readErr != nil {
		problems = append(problems, fmt.Sprintf("reading our implementation's answer: %v", readErr))
	}
	return append(problems, judgeNegative(c.Expected, err, tail)...)
}

func readNote(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.EOF):
		return " then closed the connection"
	default:
		return fmt.Sprintf(" then %v", err)
	}
}

// judgeNegative compares the outcome of a case, the handshake error and
// the records our implementation sent after the input, with want.
func judgeNegative(want negativeExpected, err error, tail []wireRecord) []string {
	var p []string
	if err == nil {
		return []string{fmt.Sprintf("the handshake succeeded; our implementation sent %s", describeRecords(tail))}
	}
	var ae *tlspake.AlertError
	hasAE := errors.As(err, &ae)
	var plainAlerts []wireRecord
	for _, r := range tail {
		if r.typ == 21 {
			plainAlerts = append(plainAlerts, r)
		}
	}
	if want.Alert != "" {
		a := alertByName[want.Alert]
		switch {
		case !hasAE:
			p = append(p, fmt.Sprintf("the handshake error carries no alert, want sent alert %s; error: %v", want.Alert, err))
		case ae.Received:
			p = append(p, fmt.Sprintf("the handshake error is a received alert %v, want sent alert %s; error: %v", ae.Alert, want.Alert, err))
		case ae.Alert != a:
			p = append(p, fmt.Sprintf("sent alert %v, want %s; error: %v", ae.Alert, want.Alert, err))
		}
		last := wireRecord{typ: 0}
		if len(tail) > 0 {
			last = tail[len(tail)-1]
		}
		if want.Protected {
			if len(plainAlerts) > 0 {
				p = append(p, fmt.Sprintf("alert sent in plaintext (%s), want it protected", describeRecords(plainAlerts)))
			} else if last.typ != 23 {
				p = append(p, fmt.Sprintf("want a protected alert as the last record; our implementation sent %s", describeRecords(tail)))
			}
		} else {
			wantBody := []byte{2, byte(a)}
			switch {
			case len(plainAlerts) == 0:
				p = append(p, fmt.Sprintf("no plaintext alert on the wire, want %02x (%s); our implementation sent %s", wantBody, want.Alert, describeRecords(tail)))
			case len(plainAlerts) > 1 || last.typ != 21:
				p = append(p, fmt.Sprintf("want one plaintext alert %02x (%s) as the last record; our implementation sent %s", wantBody, want.Alert, describeRecords(tail)))
			case !bytes.Equal(last.body, wantBody):
				p = append(p, fmt.Sprintf("the alert on the wire is %s, want %02x (%s)", last, wantBody, want.Alert))
			}
		}
	} else {
		if hasAE && !ae.Received {
			p = append(p, fmt.Sprintf("sent alert %v, want none; error: %v", ae.Alert, err))
		}
		if len(plainAlerts) > 0 {
			p = append(p, fmt.Sprintf("an alert is on the wire (%s), want none", describeRecords(plainAlerts)))
		}
	}
	if want.Received != "" {
		a := alertByName[want.Received]
		if !hasAE || !ae.Received || ae.Alert != a {
			p = append(p, fmt.Sprintf("the handshake error does not report received alert %s; error: %v", want.Received, err))
		}
	}
	if want.Error != "" && !errors.Is(err, negativeErrors[want.Error]) {
		p = append(p, fmt.Sprintf("the handshake error does not match %s; error: %v", want.Error, err))
	}
	return p
}
