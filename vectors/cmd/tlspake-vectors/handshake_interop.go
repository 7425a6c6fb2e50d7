package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tlspake/pake/tlspake"
)

// serve and connect act as one party of a handshake vector over TCP, with
// the vector's fixed inputs and randomness, so that another implementation
// configured with the same inputs can be tested against the vector
// interactively. Every record received is compared with the vector's; the
// first difference is reported by name.

const serveUsage = `usage: ` + progName + ` serve -vector FILE -listen ADDR [-timeout D] [-v]

serve listens on ADDR, accepts one TCP connection and acts as the server
of the handshake vector FILE with the vector's fixed inputs and
randomness: it runs the handshake and the server's side of the
application exchange. It compares every record the client sends with the
vector and stops at the first difference, printing which value differs,
the expected value and the received one. It prints "listening on ADDR"
once it is listening.

The exit status is 0 if every record matched, 1 on a difference or an
error, 2 for a usage error.

Flags:

	-vector FILE
		the vector file (a path, or handshake/NAME.json in the vectors
		directory)
	-listen ADDR
		the TCP address to listen on, for example 127.0.0.1:4433
	-timeout D
		the time allowed for the whole session, including the wait for
		the connection (default 60s)
	-v
		print each record as it is compared
`

const connectUsage = `usage: ` + progName + ` connect -vector FILE [-timeout D] [-v] ADDR

connect connects to the TCP address ADDR and acts as the client of the
handshake vector FILE with the vector's fixed inputs and randomness. It
compares every record the server sends with the vector and stops at the
first difference, printing which value differs, the expected value and
the received one.

The exit status is 0 if every record matched, 1 on a difference or an
error, 2 for a usage error.

Flags:

	-vector FILE
		the vector file (a path, or handshake/NAME.json in the vectors
		directory)
	-timeout D
		the time allowed for the whole session (default 60s)
	-v
		print each record as it is compared
`

// loadVector reads a generated handshake vector for serve or connect.
func loadVector(name string) (*hsFile, *hsValidated, string, error) {
	p := name
	if _, err := os.Stat(p); err != nil && !filepath.IsAbs(name) {
		if wd, werr := os.Getwd(); werr == nil {
			if dir, derr := findVectorsDir(wd); derr == nil {
				for _, cand := range []string{filepath.Join(dir, name), filepath.Join(dir, handshakeDir, name)} {
					if _, err := os.Stat(cand); err == nil {
						p = cand
						break
					}
				}
			}
		}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, "", err
	}
	f, err := decodeHandshakeFile(data)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %v", p, err)
	}
	if f.Outputs == nil {
		return nil, nil, "", fmt.Errorf("%s has no outputs; run %s generate first", p, progName)
	}
	in, err := resolveInputs(&f.Inputs, nil)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %v", p, err)
	}
	v, err := validateInputs(in)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %v", p, err)
	}
	label := filepath.ToSlash(p)
	if i := strings.LastIndex(label, handshakeDir+"/"); i >= 0 {
		label = label[i:]
	}
	return f, v, label, nil
}

func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := lookupCommand("serve")
	fs := newFlagSet(c.name)
	vec := fs.String("vector", "", "the vector `file`")
	listen := fs.String("listen", "", "the TCP `address` to listen on")
	timeout := fs.Duration("timeout", 60*time.Second, "the time allowed for the session")
	verbose := fs.Bool("v", false, "print each record")
	if done, status := parseFlags(fs, c, args, stdout, stderr); done {
		return status
	}
	if *vec == "" || *listen == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s serve: -vector and -listen are required and no argument is accepted\n\n", progName)
		io.WriteString(stderr, c.usage)
		return exitUsage
	}
	f, v, label, err := loadVector(*vec)
	if err != nil {
		fmt.Fprintf(stderr, "%s serve: %v\n", progName, err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "%s serve: %v\n", progName, err)
		return exitFail
	}
	defer ln.Close()
	deadline := time.Now().Add(*timeout)
	if tl, ok := ln.(*net.TCPListener); ok {
		tl.SetDeadline(deadline)
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	conn, err := ln.Accept()
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %s as the server: no connection: %v\n", label, err)
		return exitFail
	}
	ln.Close()
	fmt.Fprintf(stdout, "connection from %s\n", conn.RemoteAddr())
	return reportSession(stdout, label, "server", runSession(conn, "server", f, v, deadline, stdout, *verbose))
}

func runConnect(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := lookupCommand("connect")
	fs := newFlagSet(c.name)
	vec := fs.String("vector", "", "the vector `file`")
	timeout := fs.Duration("timeout", 60*time.Second, "the time allowed for the session")
	verbose := fs.Bool("v", false, "print each record")
	if done, status := parseFlags(fs, c, args, stdout, stderr); done {
		return status
	}
	if *vec == "" || fs.NArg() != 1 {
		fmt.Fprintf(stderr, "%s connect: -vector FILE and one address are required\n\n", progName)
		io.WriteString(stderr, c.usage)
		return exitUsage
	}
	f, v, label, err := loadVector(*vec)
	if err != nil {
		fmt.Fprintf(stderr, "%s connect: %v\n", progName, err)
		return exitUsage
	}
	deadline := time.Now().Add(*timeout)
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial("tcp", fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %s as the client: %v\n", label, err)
		return exitFail
	}
	return reportSession(stdout, label, "client", runSession(conn, "client", f, v, deadline, stdout, *verbose))
}

// sessionResult is the outcome of a session.
type sessionResult struct {
	received, sent int
	err            error
}

func reportSession(stdout io.Writer, label, party string, r sessionResult) int {
	if r.err != nil {
		fmt.Fprintf(stdout, "FAIL %s as the %s: %v\n", label, party, r.err)
		return exitFail
	}
	fmt.Fprintf(stdout, "PASS %s as the %s: %d records received and %d sent match the vector\n", label, party, r.received, r.sent)
	return exitOK
}

// indexedRecord is a record of the vector with its index in
// outputs.records.
type indexedRecord struct {
	index int
	rec   hsRecordJS
}

// watchConn compares the records that cross a connection with the
// vector's: those read must be the peer's, those written ours.
type watchConn struct {
	net.Conn
	f       *hsFile
	party   string
	log     io.Writer
	verbose bool

	mu        sync.Mutex
	in, out   []byte
	peerRecs  []indexedRecord
	ownRecs   []indexedRecord
	nIn, nOut int
	diff      error // the first difference in what was received
	ownDiff   error // the first difference in what was sent
}

func newWatchConn(c net.Conn, f *hsFile, party string, log io.Writer, verbose bool) *watchConn {
	w := &watchConn{Conn: c, f: f, party: party, log: log, verbose: verbose}
	for i, r := range f.Outputs.Records {
		if r.From == party {
			w.ownRecs = append(w.ownRecs, indexedRecord{i, r})
		} else {
			w.peerRecs = append(w.peerRecs, indexedRecord{i, r})
		}
	}
	return w
}

var errDifference = errors.New("the peer's record differs from the vector")

func (w *watchConn) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.diff != nil {
		return 0, errDifference
	}
	w.in = append(w.in, b[:n]...)
	recs, rest := splitRecords(w.in)
	w.in = bytes.Clone(rest)
	for _, rec := range recs {
		if d := w.compareIn(rec); d != nil {
			w.diff = d
			w.Conn.Close()
			return 0, errDifference
		}
	}
	return n, err
}

func (w *watchConn) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.out = append(w.out, b...)
	recs, rest := splitRecords(w.out)
	w.out = bytes.Clone(rest)
	for _, rec := range recs {
		if w.nOut >= len(w.ownRecs) {
			if w.ownDiff == nil {
				w.ownDiff = fmt.Errorf("this side sent a record the vector does not have (%s): the vector is stale or the implementation changed; run %s check", describeWire(rec), progName)
			}
			continue
		}
		want := w.ownRecs[w.nOut]
		w.nOut++
		if w.ownDiff == nil && hex.EncodeToString(rec) != want.rec.Wire {
			w.ownDiff = fmt.Errorf("this side's outputs.records[%d] (%s) differs from the vector: expected %s sent %x", want.index, want.rec.Summary, want.rec.Wire, rec)
		}
		if w.verbose {
			fmt.Fprintf(w.log, "sent     outputs.records[%d] %s\n", want.index, want.rec.Summary)
		}
	}
	w.mu.Unlock()
	return w.Conn.Write(b)
}

// compareIn compares a received record with the next one of the peer's in
// the vector. Called with w.mu held.
func (w *watchConn) compareIn(rec []byte) error {
	peer := otherParty(w.party)
	if w.nIn >= len(w.peerRecs) {
		return fmt.Errorf("the %s sent a record after the last one of the vector: %s", peer, describeWire(rec))
	}
	want := w.peerRecs[w.nIn]
	seq := 0
	for _, r := range w.peerRecs[:w.nIn] {
		if r.rec.Protection == want.rec.Protection {
			seq++
		}
	}
	w.nIn++
	if hex.EncodeToString(rec) == want.rec.Wire {
		if w.verbose {
			fmt.Fprintf(w.log, "received outputs.records[%d] %s: as expected\n", want.index, want.rec.Summary)
		}
		return nil
	}
	what := fmt.Sprintf("outputs.records[%d] from the %s (%s)", want.index, peer, want.rec.Summary)
	return fmt.Errorf("%s: %s", what, w.explain(want.rec, uint64(seq), rec))
}

// explain names what differs between the vector's record want and the
// received record got.
func (w *watchConn) explain(want hsRecordJS, seq uint64, got []byte) string {
	wantWire, _ := hex.DecodeString(want.Wire)
	wantContent, _ := hex.DecodeString(want.Content)
	if want.Protection == "plaintext" {
		if len(got) < 5 || got[0] != wantWire[0] {
			return fmt.Sprintf("the record type differs: expected %s, received %s", contentTypeName(wantWire[0]), describeWire(got))
		}
		if !bytes.Equal(got[:3], wantWire[:3]) {
			return fmt.Sprintf("the record header differs: expected %x received %x", wantWire[:3], got[:3])
		}
		return explainContent(want, wantContent, got[0], got[5:])
	}
	suite := w.suite()
	key, iv := w.vectorKey(want.From, want.Protection)
	ct, content, err := openRecord(suite, key, iv, seq, got)
	if err != nil {
		secret := ""
		for _, tk := range w.keysOf(want.From) {
			if tk.Name == want.Protection && tk.Direction == "write" {
				secret = tk.Secret
			}
		}
		return fmt.Sprintf("it does not decrypt with the vector's %s (%s; key %x, iv %x, sequence number %d): the %s derived a different %s (%v); received %x",
			want.Protection, secret, key, iv, seq, want.From, want.Protection, err, got)
	}
	return explainContent(want, wantContent, ct, content)
}

// explainContent names the difference in a record's (decrypted) content.
func explainContent(want hsRecordJS, wantContent []byte, ct byte, content []byte) string {
	if contentTypeName(ct) != want.ContentType {
		return fmt.Sprintf("the content type differs: expected %s, received %s (%s)", want.ContentType, contentTypeName(ct), recordSummary(ct, content, nil, false))
	}
	switch ct {
	case ctHandshake:
		wm, _ := splitMessages(wantContent)
		gm, grest := splitMessages(content)
		for i := range min(len(wm), len(gm)) {
			if !bytes.Equal(wm[i], gm[i]) {
				return diffMessages(wm[i], gm[i])
			}
		}
		if len(gm) != len(wm) || len(grest) > 0 {
			return fmt.Sprintf("the record holds different handshake messages: expected %x received %x", wantContent, content)
		}
	case ctAlert:
		return fmt.Sprintf("the alert differs: expected %s, received %s", want.Summary, recordSummary(ct, content, nil, false))
	case ctApplicationData:
		return fmt.Sprintf("the application data differs: expected %x received %x", wantContent, content)
	}
	if !bytes.Equal(wantContent, content) {
		return fmt.Sprintf("the content differs: expected %x received %x", wantContent, content)
	}
	return "the record's padding or header differs from the vector's"
}

func (w *watchConn) keysOf(party string) []hsTrafficKey {
	if party == "client" {
		return w.f.Outputs.Client.TrafficKeys
	}
	return w.f.Outputs.Server.TrafficKeys
}

// vectorKey returns the key and IV with which the vector's writer
// protects records under the named traffic secret.
func (w *watchConn) vectorKey(writer, name string) (key, iv []byte) {
	for _, tk := range w.keysOf(writer) {
		if tk.Name == name && tk.Direction == "write" {
			key, _ = hex.DecodeString(tk.Key)
			iv, _ = hex.DecodeString(tk.IV)
		}
	}
	return key, iv
}

// suite returns the vector's cipher suite.
func (w *watchConn) suite() uint16 {
	for _, m := range w.f.Outputs.HandshakeMessages {
		if m.Type == "ServerHello" {
			b, _ := hex.DecodeString(m.Data)
			if cs := fieldValue(b, "ServerHello.cipher_suite"); len(cs) == 2 {
				return uint16(cs[0])<<8 | uint16(cs[1])
			}
		}
	}
	return 0
}

// describeWire describes a record from its header, for messages.
func describeWire(rec []byte) string {
	if len(rec) < 5 {
		return fmt.Sprintf("%x", rec)
	}
	if rec[0] == ctHandshake && rec[1] == 3 {
		msgs, _ := splitMessages(rec[5:])
		var names []string
		for _, m := range msgs {
			names = append(names, messageTypeName(m))
		}
		return fmt.Sprintf("%s record (%s) %x", contentTypeName(rec[0]), strings.Join(names, ", "), rec)
	}
	return fmt.Sprintf("%s record of %d bytes %x", contentTypeName(rec[0]), len(rec)-5, rec)
}

// runSession acts as party of the vector over conn and compares every
// record with the vector's.
func runSession(conn net.Conn, party string, f *hsFile, v *hsValidated, deadline time.Time, log io.Writer, verbose bool) sessionResult {
	defer conn.Close()
	conn.SetDeadline(deadline)
	w := newWatchConn(conn, f, party, log, verbose)
	var cfg *tlspake.Config
	var tc *tlspake.Conn
	stream := &randStream{party: party}
	if party == "client" {
		stream.vals = v.client.random
		cfg = clientConfig(&v.client, stream)
		tc = tlspake.Client(w, cfg)
	} else {
		stream.vals = v.server.random
		cfg = serverConfig(&v.server, stream)
		tc = tlspake.Server(w, cfg)
	}
	cfg.HandshakeTimeout = -1 // the connection's deadline bounds it
	var update func(bool) error
	ctx := withKeyUpdater(context.Background(), func(u func(bool) error) { update = u })
	herr := tc.HandshakeContext(ctx)

	expect := f.Outputs.Client.Result
	if party == "server" {
		expect = f.Outputs.Server.Result
	}
	var err error
	switch {
	case herr != nil && expect.Completed:
		err = fmt.Errorf("the handshake failed: %v", herr)
	case herr == nil && !expect.Completed:
		err = errors.New("the handshake completed, but in the vector it fails")
	case herr == nil:
		err = runPartySteps(tc, party, v.steps, update)
	}
	// Let the peer see the end of our data, then read what it still
	// sends, so that its last records are compared too.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	drainDeadline := time.Now().Add(5 * time.Second)
	if drainDeadline.After(deadline) {
		drainDeadline = deadline
	}
	conn.SetReadDeadline(drainDeadline)
	io.Copy(io.Discard, readerOnly{w})

	w.mu.Lock()
	defer w.mu.Unlock()
	res := sessionResult{received: w.nIn, sent: w.nOut}
	switch {
	case w.diff != nil:
		res.err = w.diff
	case stream.err != nil:
		res.err = stream.err
	case err != nil:
		res.err = err
	case w.ownDiff != nil:
		res.err = w.ownDiff
	case w.nIn < len(w.peerRecs):
		next := w.peerRecs[w.nIn]
		res.err = fmt.Errorf("the %s sent %d of the vector's %d records: outputs.records[%d] (%s) never arrived: expected %s",
			otherParty(party), w.nIn, len(w.peerRecs), next.index, next.rec.Summary, next.rec.Wire)
	case len(w.in) > 0:
		res.err = fmt.Errorf("the %s sent %d bytes that are not a whole record: %x", otherParty(party), len(w.in), w.in)
	case w.nOut < len(w.ownRecs):
		next := w.ownRecs[w.nOut]
		res.err = fmt.Errorf("this side sent only %d of the vector's %d records: outputs.records[%d] (%s) was not sent", w.nOut, len(w.ownRecs), next.index, next.rec.Summary)
	}
	return res
}

// readerOnly hides every method but Read.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(b []byte) (int, error) { return r.r.Read(b) }

// runPartySteps performs party's side of the application exchange.
func runPartySteps(c *tlspake.Conn, party string, steps []step, update func(bool) error) error {
	for _, st := range steps {
		if st.from == party {
			switch st.typ {
			case stepData:
				if _, err := c.Write(st.data); err != nil {
					return fmt.Errorf("%s: writing: %v", st.path, err)
				}
			case stepKeyUpdate:
				if update == nil {
					return fmt.Errorf("%s: %v", st.path, errNoKeyUpdate)
				}
				if err := update(st.requestUpdate); err != nil {
					return fmt.Errorf("%s: sending KeyUpdate: %v", st.path, err)
				}
			case stepCloseWrite:
				if err := c.CloseWrite(); err != nil {
					return fmt.Errorf("%s: sending close_notify: %v", st.path, err)
				}
			}
			continue
		}
		switch st.typ {
		case stepData:
			got := make([]byte, len(st.data))
			if _, err := io.ReadFull(c, got); err != nil {
				return fmt.Errorf("%s: reading the %s's data: %v", st.path, st.from, err)
			}
			if !bytes.Equal(got, st.data) {
				return fmt.Errorf("%s: the %s's application data differs: expected %x received %x", st.path, st.from, st.data, got)
			}
		case stepCloseWrite:
			if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				return fmt.Errorf("%s: expected the %s's close_notify, read %d bytes and %v", st.path, st.from, n, err)
			}
		}
	}
	return nil
}
