package main

import (
	"bytes"
	"crypto/mlkem"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/tlspake/pake/internal/cpacecore"
	"github.com/tlspake/pake/tlspake"
)

// This file turns a run's trace into the outputs of a vector, and checks
// the trace against values computed independently from the inputs (the
// CPace values with internal/cpacecore, the key shares, the record
// decryption). A disagreement means the implementation does not do what
// the vector format assumes, for example reads its randomness in another
// order; generation then fails and says so.

// writeEpoch is one write key of a party.
type writeEpoch struct {
	name            string
	secret, key, iv []byte
}

// sentRecord is a record as one party wrote it.
type sentRecord struct {
	from  string
	wire  []byte
	epoch *writeEpoch // nil: plaintext
	seq   uint64
}

// trafficName names the n-th traffic secret (0: handshake) of the party
// that writes with it.
func trafficName(writer string, n int) string {
	if n == 0 {
		return writer + "_handshake_traffic_secret"
	}
	return fmt.Sprintf("%s_application_traffic_secret_%d", writer, n-1)
}

// collectRecords lists the records both parties wrote, in trace order,
// each with the write key that protects it.
func collectRecords(events []traceEvent) []sentRecord {
	epochs := map[string][]*writeEpoch{}
	seq := map[string]uint64{}
	var out []sentRecord
	for _, e := range events {
		es := epochs[e.party]
		switch e.name {
		case "write_traffic_secret":
			epochs[e.party] = append(es, &writeEpoch{name: trafficName(e.party, len(es)), secret: e.value})
			seq[e.party] = 0
		case "write_key":
			if len(es) > 0 {
				es[len(es)-1].key = e.value
			}
		case "write_iv":
			if len(es) > 0 {
				es[len(es)-1].iv = e.value
			}
		case "record_out":
			r := sentRecord{from: e.party, wire: e.value}
			if len(es) > 0 {
				r.epoch = es[len(es)-1]
				r.seq = seq[e.party]
				seq[e.party]++
			}
			out = append(out, r)
		}
	}
	return out
}

// problems collects disagreements between the trace and independent
// computations.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func hexs(b []byte) string { return hex.EncodeToString(b) }

// derived is everything computed from a run.
type derived struct {
	out      *hsOutputs
	messages [][]byte // handshake messages, as in out.HandshakeMessages
	from     []string
	alerts   []string // "client sends fatal bad_record_mac", in order
	appStats map[string]int
}

// firstMessage returns the first (or last) handshake message of the given
// name sent by from.
func (d *derived) findMessage(from, name string, last bool) []byte {
	var found []byte
	for i, m := range d.messages {
		if d.from[i] == from && messageTypeName(m) == name {
			if !last {
				return m
			}
			found = m
		}
	}
	return found
}

// deriveOutputs computes a vector's outputs from a run. Notes say where
// the trace disagrees with the inputs; the outputs are computed anyway, so
// that check can name the values that differ.
func deriveOutputs(v *hsValidated, run *pairRun) (*derived, []string, error) {
	var probs problems
	d := &derived{out: &hsOutputs{}, appStats: map[string]int{}}
	records := collectRecords(run.events)

	// The cipher suite, from the server's first plaintext ServerHello
	// (or HelloRetryRequest), needed to decrypt.
	var suite uint16
	for _, r := range records {
		if r.from == "server" && r.epoch == nil && len(r.wire) > 5 && r.wire[0] == ctHandshake {
			msgs, _ := splitMessages(r.wire[5:])
			for _, m := range msgs {
				if cs := fieldValue(m, messageTypeName(m)+".cipher_suite"); len(cs) == 2 && suite == 0 {
					suite = uint16(cs[0])<<8 | uint16(cs[1])
				}
			}
		}
	}

	pending := map[string][]byte{}
	for i, r := range records {
		ct, content := r.wire[0], r.wire[5:]
		prot := "plaintext"
		if r.epoch != nil {
			prot = r.epoch.name
			var err error
			ct, content, err = openRecord(suite, r.epoch.key, r.epoch.iv, r.seq, r.wire)
			if err != nil {
				probs.addf("record %d from the %s does not decrypt with the traced %s (key %x, iv %x, sequence number %d): %v",
					i, r.from, r.epoch.name, r.epoch.key, r.epoch.iv, r.seq, err)
				continue
			}
		}
		var names []string
		partial := false
		switch ct {
		case ctHandshake:
			msgs, rest := splitMessages(append(pending[r.from], content...))
			pending[r.from] = bytes.Clone(rest)
			partial = len(rest) > 0
			for _, m := range msgs {
				name := messageTypeName(m)
				switch m[0] {
				case 24: // KeyUpdate
					names = append(names, keyUpdateName(m))
					d.appStats[r.from+" key_update"]++
					continue
				case 4: // NewSessionTicket: after the handshake
					names = append(names, name)
					continue
				}
				names = append(names, name)
				d.messages = append(d.messages, m)
				d.from = append(d.from, r.from)
				d.out.HandshakeMessages = append(d.out.HandshakeMessages, hsMessage{From: r.from, Type: name, Data: hexs(m)})
			}
		case ctAlert:
			if len(content) == 2 {
				level := "warning"
				if content[0] == 2 {
					level = "fatal"
				}
				d.alerts = append(d.alerts, fmt.Sprintf("the %s sends a %s %s alert", r.from, level, alertName(content[1])))
			}
		case ctApplicationData:
			d.appStats[r.from+" data"]++
		}
		d.out.Records = append(d.out.Records, hsRecordJS{
			From:        r.from,
			Protection:  prot,
			ContentType: contentTypeName(ct),
			Summary:     recordSummary(ct, content, names, partial),
			Content:     hexs(content),
			Wire:        hexs(r.wire),
		})
	}
	for i, m := range d.messages {
		if messageTypeName(m) == "Finished" {
			if d.from[i] == "server" {
				d.out.Finished.Server = hexs(m[4:])
			} else {
				d.out.Finished.Client = hexs(m[4:])
			}
		}
	}

	for _, party := range []string{"client", "server"} {
		po, err := d.partyOutputs(v, run, party, &probs)
		if err != nil {
			return nil, nil, err
		}
		if party == "client" {
			d.out.Client = *po
		} else {
			d.out.Server = *po
		}
	}
	// Randomness read in another order than the vector's explains
	// everything else, so it comes first.
	for _, party := range []string{"client", "server"} {
		if err := run.party(party).rand.err; err != nil {
			probs = append(problems{err.Error()}, probs...)
		}
	}
	return d, probs, nil
}

// partyOutputs computes one party's outputs and checks its trace.
func (d *derived) partyOutputs(v *hsValidated, run *pairRun, party string, probs *problems) (*hsPartyOut, error) {
	pr := run.party(party)
	po := &hsPartyOut{}

	// Randomness: every value must have been read.
	for _, p := range pr.rand.unused() {
		probs.addf("%s was never read by the %s; remove it or fix the read order", p, party)
	}

	// Result.
	po.Result.Completed = pr.err == nil
	if pr.err != nil {
		var ae *tlspake.AlertError
		if errors.As(pr.err, &ae) {
			if ae.Received {
				po.Result.AlertReceived = ae.Alert.String()
			} else {
				po.Result.AlertSent = ae.Alert.String()
			}
		} else {
			probs.addf("the %s's handshake failed without an alert: %v", party, pr.err)
		}
		po.Result.CodeMismatch = errors.Is(pr.err, tlspake.ErrCodeMismatch)
	} else {
		st := pr.state
		po.Negotiated = &hsNegotiated{
			CipherSuite:       tlspake.CipherSuiteName(st.CipherSuite),
			Group:             st.Group.String(),
			Auth:              st.Auth.String(),
			PSKIdentity:       hexs(st.PSKIdentity),
			ALPN:              st.NegotiatedProtocol,
			HelloRetryRequest: st.DidHelloRetryRequest,
		}
		if st.Group == tlspake.X25519MLKEM768 && party == "server" {
			probs.addf("the server selected X25519MLKEM768, whose encapsulation randomness does not come from Config.Rand: such a handshake is not reproducible; give the server the groups [\"X25519\"]")
		}
		po.Exporter = hexs(pr.exporter)
		if pr.pairing != nil {
			po.Pairing = &hsPairing{ID: hexs(pr.pairing.ID), Secret: hexs(pr.pairing.Secret)}
		}
	}

	// Key schedule and traffic keys, from the trace.
	traced := map[string][]byte{}
	counts := map[string]int{}
	for _, e := range run.events {
		if e.party != party {
			continue
		}
		switch e.name {
		case "ISK", "ecdhe_shared_secret", "early_secret", "handshake_secret", "master_secret", "exporter_master_secret":
			traced[e.name] = e.value
		case "write_traffic_secret", "read_traffic_secret":
			dir := strings.TrimSuffix(e.name, "_traffic_secret")
			writer := party
			if dir == "read" {
				writer = otherParty(party)
			}
			po.TrafficKeys = append(po.TrafficKeys, hsTrafficKey{Name: trafficName(writer, counts[dir]), Direction: dir, Secret: hexs(e.value)})
			counts[dir]++
		case "write_key", "read_key", "write_iv", "read_iv":
			dir, what, _ := strings.Cut(e.name, "_")
			for i := len(po.TrafficKeys) - 1; i >= 0; i-- {
				if po.TrafficKeys[i].Direction == dir {
					if what == "key" {
						po.TrafficKeys[i].Key = hexs(e.value)
					} else {
						po.TrafficKeys[i].IV = hexs(e.value)
					}
					break
				}
			}
		}
	}
	po.KeySchedule = hsKeySchedule{
		ECDHESharedSecret:    hexs(traced["ecdhe_shared_secret"]),
		EarlySecret:          hexs(traced["early_secret"]),
		HandshakeSecret:      hexs(traced["handshake_secret"]),
		MasterSecret:         hexs(traced["master_secret"]),
		ExporterMasterSecret: hexs(traced["exporter_master_secret"]),
	}

	// The transcript the party traced must be what was on the wire.
	var transcript [][]byte
	for _, e := range run.events {
		if e.party == party && e.name == "handshake_message" {
			transcript = append(transcript, e.value)
		}
	}
	if len(transcript) > len(d.messages) {
		probs.addf("the %s's transcript has %d messages, more than the %d on the wire", party, len(transcript), len(d.messages))
	} else {
		for i, m := range transcript {
			if !bytes.Equal(m, d.messages[i]) {
				probs.addf("handshake message %d in the %s's transcript (%s) is not the one on the wire (%s)", i, party, messageTypeName(m), messageTypeName(d.messages[i]))
				break
			}
		}
	}

	rnd := map[string][]byte{}
	var cfg *hsConfig
	if party == "client" {
		cfg = &v.client
	} else {
		cfg = &v.server
	}
	for _, r := range cfg.random {
		rnd[r.name] = r.value
	}
	ch1 := d.findMessage("client", "ClientHello", false)
	chLast := d.findMessage("client", "ClientHello", true)
	sh := d.findMessage("server", "ServerHello", false)
	hrr := d.findMessage("server", "HelloRetryRequest", false)
	if ch1 == nil {
		return nil, fmt.Errorf("no ClientHello was sent (%v)", run.client.err)
	}

	// CPace values, computed here with internal/cpacecore and compared
	// with the messages and the traced ISK.
	ya := fieldValue(ch1, "ClientHello.pake CPACE_X25519_SHA512 pake_message")
	var yb []byte
	if sh != nil {
		yb = fieldValue(sh, "ServerHello.pake CPACE_X25519_SHA512 pake_message")
	}
	sid := fieldValue(ch1, "ClientHello.random")
	var ci []byte
	if party == "client" {
		ci = cpacecore.LVCat([]byte("tls13pake"), cfg.clientIdentity, cfg.serverIdentity)
	} else {
		ci = cpacecore.LVCat([]byte("tls13pake"), fieldValue(ch1, "ClientHello.pake.client_identity"), fieldValue(ch1, "ClientHello.pake.server_identity"))
	}
	iskTraced := traced["ISK"]
	switch {
	case party == "client" && len(cfg.code) > 0:
		g := cpacecore.CalculateGenerator(cfg.code, ci, sid)
		cp := &hsCPaceOut{CI: hexs(ci), SID: hexs(sid), G: hexs(g[:]), Ya: hexs(ya)}
		var want [32]byte
		cpacecore.X25519(&want, (*[32]byte)(rnd["ya"]), &g)
		if !bytes.Equal(want[:], ya) {
			probs.addf("the client's Ya in the ClientHello is %x, not X25519(ya, g) = %x", ya, want)
		}
		if len(yb) == 32 {
			var k [32]byte
			cpacecore.X25519(&k, (*[32]byte)(rnd["ya"]), (*[32]byte)(yb))
			isk := cpacecore.ISKIR(sid, k[:], ya, nil, yb, nil)
			cp.Yb, cp.K, cp.ISK = hexs(yb), hexs(k[:]), hexs(iskTraced)
			if !bytes.Equal(isk[:], iskTraced) {
				probs.addf("the client's traced ISK %x differs from the ISK computed from ya, Yb and sid, %x", iskTraced, isk)
			}
		}
		po.CPace = cp
	case party == "server" && yb != nil:
		cp := &hsCPaceOut{CI: hexs(ci), SID: hexs(sid), Ya: hexs(ya), Yb: hexs(yb), ISK: hexs(iskTraced)}
		if prs, ok := rnd["simulation_prs"]; ok {
			cp.Simulated = true
			cp.G = hexs(cpacecore.Basepoint[:])
			ug := cpacecore.CalculateGenerator(prs, ci, sid)
			cp.UnusedG = hexs(ug[:])
			var want [32]byte
			cpacecore.X25519(&want, (*[32]byte)(rnd["yb"]), &cpacecore.Basepoint)
			if !bytes.Equal(want[:], yb) {
				probs.addf("the server's simulated Yb is %x, not X25519(yb, 9) = %x", yb, want)
			}
			if !bytes.Equal(iskTraced, rnd["simulation_isk"]) {
				probs.addf("the server's traced ISK %x is not simulation_isk", iskTraced)
			}
		} else {
			g := cpacecore.CalculateGenerator(cfg.code, ci, sid)
			cp.G = hexs(g[:])
			var want, k [32]byte
			cpacecore.X25519(&want, (*[32]byte)(rnd["yb"]), &g)
			if !bytes.Equal(want[:], yb) {
				probs.addf("the server's Yb in the ServerHello is %x, not X25519(yb, g) = %x", yb, want)
			}
			if len(ya) == 32 {
				cpacecore.X25519(&k, (*[32]byte)(rnd["yb"]), (*[32]byte)(ya))
				cp.K = hexs(k[:])
				isk := cpacecore.ISKIR(sid, k[:], ya, nil, yb, nil)
				if !bytes.Equal(isk[:], iskTraced) {
					probs.addf("the server's traced ISK %x differs from the ISK computed from yb, Ya and sid, %x", iskTraced, isk)
				}
			}
		}
		po.CPace = cp
	}

	// Key shares and randoms.
	if party == "client" {
		if got := fieldValue(ch1, "ClientHello.random"); !bytes.Equal(got, rnd["client_hello_random"]) {
			probs.addf("ClientHello.random is %x, not client_hello_random", got)
		}
		first := cfg.groups[0]
		want := clientShare(first, rnd["mlkem_seed"], rnd["x25519_private_key"])
		if got := fieldValue(ch1, "ClientHello.key_share "+first.String()); !bytes.Equal(got, want) {
			probs.addf("the first ClientHello's key share for %v is not the one of the vector's private key", first)
		}
		priv := rnd["x25519_private_key"]
		if len(cfg.keyShares) == 2 {
			want := clientShare(tlspake.X25519, nil, rnd["second_x25519_private_key"])
			if got := fieldValue(ch1, "ClientHello.key_share X25519"); !bytes.Equal(got, want) {
				probs.addf("the first ClientHello's second key share (X25519) is not the one of second_x25519_private_key")
			}
			if sh != nil && fieldValue(sh, "ServerHello.key_share X25519") != nil {
				priv = rnd["second_x25519_private_key"]
			}
		}
		if hrr != nil {
			sg := fieldValue(hrr, "HelloRetryRequest.key_share.selected_group")
			if len(sg) == 2 {
				g := tlspake.CurveID(uint16(sg[0])<<8 | uint16(sg[1]))
				want := clientShare(g, rnd["hrr_mlkem_seed"], rnd["hrr_x25519_private_key"])
				if got := fieldValue(chLast, "ClientHello.key_share "+g.String()); !bytes.Equal(got, want) {
					probs.addf("the second ClientHello's key share for %v is not the one of hrr_x25519_private_key", g)
				}
				priv = rnd["hrr_x25519_private_key"]
			}
		}
		if sh != nil && traced["ecdhe_shared_secret"] != nil {
			if peer := fieldValue(sh, "ServerHello.key_share X25519"); len(peer) == 32 && len(priv) == 32 {
				var s [32]byte
				cpacecore.X25519(&s, (*[32]byte)(priv), (*[32]byte)(peer))
				if !bytes.Equal(s[:], traced["ecdhe_shared_secret"]) {
					probs.addf("the client's traced ECDHE secret differs from X25519(its private key, the server's share)")
				}
			}
		}
	} else if sh != nil {
		if got := fieldValue(sh, "ServerHello.random"); !bytes.Equal(got, rnd["server_hello_random"]) {
			probs.addf("ServerHello.random is %x, not server_hello_random", got)
		}
		priv := rnd["x25519_private_key"]
		var pub [32]byte
		cpacecore.X25519Base(&pub, (*[32]byte)(priv))
		if got := fieldValue(sh, "ServerHello.key_share X25519"); !bytes.Equal(got, pub[:]) {
			probs.addf("the ServerHello's key share is %x, not X25519(x25519_private_key, 9) = %x", got, pub)
		}
		if peer := fieldValue(chLast, "ClientHello.key_share X25519"); len(peer) == 32 && traced["ecdhe_shared_secret"] != nil {
			var s [32]byte
			cpacecore.X25519(&s, (*[32]byte)(priv), (*[32]byte)(peer))
			if !bytes.Equal(s[:], traced["ecdhe_shared_secret"]) {
				probs.addf("the server's traced ECDHE secret differs from X25519(its private key, the client's share)")
			}
		}
	}
	return po, nil
}

// clientShare is the key_share a client sends for group g.
func clientShare(g tlspake.CurveID, seed, priv []byte) []byte {
	if len(priv) != 32 {
		return nil
	}
	var pub [32]byte
	cpacecore.X25519Base(&pub, (*[32]byte)(priv))
	if g == tlspake.X25519MLKEM768 {
		dk, err := mlkem.NewDecapsulationKey768(seed)
		if err != nil {
			return nil
		}
		return append(dk.EncapsulationKey().Bytes(), pub[:]...)
	}
	return pub[:]
}

// quoteBytes shows an identity or code as a quoted string when it is
// printable ASCII, else as hex.
func quoteBytes(b []byte) string {
	if len(b) == 0 {
		return "empty"
	}
	for _, r := range string(b) {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return "0x" + hex.EncodeToString(b)
		}
	}
	return strconv.Quote(string(b))
}

func suiteNames(ids []uint16) string {
	var s []string
	for _, id := range ids {
		s = append(s, tlspake.CipherSuiteName(id))
	}
	return strings.Join(s, ", ")
}

func groupNames(gs []tlspake.CurveID) string {
	var s []string
	for _, g := range gs {
		s = append(s, g.String())
	}
	return strings.Join(s, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// describe writes the description of a vector, from its inputs and
// outputs.
func describe(v *hsValidated, d *derived) string {
	var b strings.Builder
	out := d.out
	c, s := &v.client, &v.server
	pskSelected := out.Server.Negotiated != nil && out.Server.Negotiated.Auth == "PSK"
	if pskSelected {
		src := ""
		if len(c.pairingFrom) > 0 && c.pairingFrom[0] != "" {
			src = " the pairing (PROFILE.md section 5) that handshake/" + c.pairingFrom[0] + " outputs,"
		}
		fmt.Fprintf(&b, "A reconnection authenticated with an external PSK (RFC 8446 4.2.11, psk_dhe_ke): the client offers%s as PSK.", src)
		if len(c.code) > 0 {
			b.WriteString(" It also sends the pake extension with its code; the server selects the PSK and ignores pake.")
		}
	} else {
		b.WriteString("A handshake authenticated with the code (pake extension, CPACE_X25519_SHA512).")
	}
	// What the client offers, as its first ClientHello says (a client
	// without a code offers only the suites of its PSKs' hash).
	ch1 := d.findMessage("client", "ClientHello", false)
	var offered []uint16
	cs := fieldValue(ch1, "ClientHello.cipher_suites")
	for i := 0; i+1 < len(cs); i += 2 {
		offered = append(offered, uint16(cs[i])<<8|uint16(cs[i+1]))
	}
	fmt.Fprintf(&b, " The client offers %s and the groups %s, with a key share for %s.", suiteNames(offered), groupNames(c.groups), strings.ReplaceAll(groupNames(c.keyShares), ", ", " and one for "))
	// Every configured code and identity is stated, also those the
	// handshake does not use (a server that selects a PSK or simulates),
	// so that each input byte shows in the vector's outputs.
	if len(c.code) > 0 {
		fmt.Fprintf(&b, " The client has the code %s and sends the identities %s (client) and %s (server).", quoteBytes(c.code), quoteBytes(c.clientIdentity), quoteBytes(c.serverIdentity))
	} else {
		b.WriteString(" The client has no code and sends no pake extension.")
		if len(c.clientIdentity)+len(c.serverIdentity) > 0 {
			fmt.Fprintf(&b, " Its identities %s and %s are not used.", quoteBytes(c.clientIdentity), quoteBytes(c.serverIdentity))
		}
	}
	if len(s.code) > 0 {
		fmt.Fprintf(&b, " The server has the code %s for the server identity %s.", quoteBytes(s.code), quoteBytes(s.serverIdentity))
	} else {
		b.WriteString(" The server has no code, only PSKs.")
		if len(s.serverIdentity) > 0 {
			fmt.Fprintf(&b, " Its server identity %s is not used.", quoteBytes(s.serverIdentity))
		}
	}
	if len(c.alpn) > 0 {
		fmt.Fprintf(&b, " The client offers the ALPN protocols %s.", strings.Join(quoteAll(c.alpn), ", "))
	}
	if c.serverName != "" {
		fmt.Fprintf(&b, " It sends server_name %q.", c.serverName)
	}
	if hrr := d.findMessage("server", "HelloRetryRequest", false); hrr != nil {
		fmt.Fprintf(&b, " The server accepts only the groups %s, so it answers with a HelloRetryRequest; the second ClientHello has a new key share and the same random and pake extension.", groupNames(s.groups))
	}
	if n := out.Server.Negotiated; n != nil {
		fmt.Fprintf(&b, " The server selects %s and %s", n.CipherSuite, n.Group)
		if n.ALPN != "" {
			fmt.Fprintf(&b, " and the ALPN protocol %q", n.ALPN)
		}
		b.WriteString(".")
	}
	sim := out.Server.CPace != nil && out.Server.CPace.Simulated
	switch {
	case sim:
		b.WriteString(" The server does not know the server identity the client asks for, so it answers with a simulated CPace share, Yb = X25519(yb, 9), and a random ISK (draft-ietf-tls-pake, Server Simulation); the handshake fails as with a wrong code.")
	case !pskSelected && !bytes.Equal(c.code, s.code):
		b.WriteString(" The client's code differs from the server's, so the two derive different handshake keys.")
	}
	if len(d.alerts) > 0 && !(out.Client.Result.Completed && out.Server.Result.Completed) {
		a := strings.Join(d.alerts, ", then ")
		fmt.Fprintf(&b, " %s%s.", strings.ToUpper(a[:1]), a[1:])
	}
	switch {
	case out.Client.Result.Completed && out.Server.Result.Completed:
		var parts []string
		for _, p := range []string{"client", "server"} {
			parts = append(parts, fmt.Sprintf("%s from the %s", plural(d.appStats[p+" data"], "application data record", "application data records"), p))
		}
		fmt.Fprintf(&b, " After the handshake: %s", strings.Join(parts, " and "))
		if n := d.appStats["client key_update"] + d.appStats["server key_update"]; n > 0 {
			fmt.Fprintf(&b, ", %s", plural(n, "KeyUpdate", "KeyUpdates"))
		}
		var closes []string
		for _, st := range v.steps {
			if st.typ == stepCloseWrite {
				closes = append(closes, "the "+st.from)
			}
		}
		if len(closes) > 0 {
			fmt.Fprintf(&b, "; close_notify from %s", strings.Join(closes, " then "))
		}
		b.WriteString(".")
	case !out.Client.Result.Completed && !out.Server.Result.Completed:
		b.WriteString(" Neither side completes the handshake.")
	default:
		b.WriteString(" Only one side completes the handshake.")
	}
	return b.String()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
