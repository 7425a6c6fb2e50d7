package device

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tlspake/pake/tlspake"
)

// FrontDoor answers ordinary TLS clients (a browser or curl that reaches
// the device's port without the pake extension) with a small page that
// says what the device is and how to pair with it, over crypto/tls with a
// self-signed certificate. The device's real UI is never served on that
// path.
type FrontDoor struct {
	// Certificate is the self-signed certificate (see
	// LoadOrCreateFrontDoorCertificate).
	Certificate tls.Certificate
	// Name is the device name shown on the page.
	Name string
	// Handler, if set, replaces the built-in page. It must not expose the
	// device's UI.
	Handler http.Handler
}

var frontDoorPage = template.Must(template.New("front").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Name}}</title></head>
<body style="font-family: sans-serif; max-width: 42em; margin: 2em auto; line-height: 1.4">
<h1>{{.Name}}</h1>
<p>This is a <b>tlspake device</b>. Its web interface is protected by the code
printed on its label, and is not available over ordinary HTTPS: the certificate
your browser warned about only serves this page.</p>
<h2>Open the device's interface</h2>
<ol>
<li>Install the tlspake client (<code>go install github.com/tlspake/pake/client/cmd/tlspake@latest</code>).</li>
<li>Pair once with the code from the label:<br>
<code>tlspake pair -code XXXXX-XXXXX https://{{.Host}}</code></li>
<li>Start the local proxy and browse the device through it:<br>
<code>tlspake proxy https://{{.Host}}</code>, then open <a href="http://127.0.0.1:8080/">http://127.0.0.1:8080/</a></li>
</ol>
<p>The code never leaves your computer: the device and the client prove to each
other that they know it (CPace, draft-irtf-cfrg-cpace) inside a TLS 1.3 handshake.</p>
</body></html>
`))

func (f *FrontDoor) handler() http.Handler {
	if f.Handler != nil {
		return f.Handler
	}
	name := f.Name
	if name == "" {
		name = "tlspake device"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path != "/" {
			w.WriteHeader(http.StatusNotFound)
		}
		frontDoorPage.Execute(w, map[string]string{"Name": name, "Host": r.Host})
	})
}

// LoadOrCreateFrontDoorCertificate reads the front door's certificate and
// key from the PEM file at path, or creates a self-signed ECDSA P-256 one
// for name (mode 0600) on first use.
func LoadOrCreateFrontDoorCertificate(path, name string) (tls.Certificate, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return tls.X509KeyPair(b, b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	if name == "" {
		name = "tlspake device"
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"tlspake device (self-signed front door)"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(20, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	var buf bytes.Buffer
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return tls.Certificate{}, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".frontdoor.tmp*")
	if err != nil {
		return tls.Certificate{}, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, werr := f.Write(buf.Bytes())
	if err := errors.Join(f.Chmod(0o600), werr, f.Sync(), f.Close()); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return tls.Certificate{}, err
	}
	b, err = os.ReadFile(path) // ours, or the one another process linked first
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(b, b)
}

// maxPeek bounds what the listener reads before routing a connection.
const maxPeek = 1<<16 + 4

// peekClientHello reads the first handshake message from r, across as
// many records (and TCP segments) as it takes, and returns everything it
// read and the message (nil if the stream does not start like a TLS
// handshake; the bytes are then passed on unchanged).
func peekClientHello(r io.Reader) (read, msg []byte, err error) {
	var hs []byte
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return append(read, hdr[:]...), nil, err
		}
		read = append(read, hdr[:]...)
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if hdr[0] != 22 || hdr[1] != 3 || n == 0 || n > 1<<14 {
			return read, nil, nil
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return read, nil, err
		}
		read = append(read, body...)
		hs = append(hs, body...)
		if len(hs) >= 4 {
			want := 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
			if want > maxPeek {
				return read, nil, nil
			}
			if len(hs) >= want {
				return read, hs[:want], nil
			}
		}
	}
}

// prefixConn replays bytes already read before reading from the network.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// chanListener is a net.Listener fed by the device listener.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// frontDoorServer serves the front door page on connections handed to it.
type frontDoorServer struct {
	ln        *chanListener // handed connections whose TLS handshake is done
	tlsConfig *tls.Config
	srv       *http.Server
	wg        sync.WaitGroup
}

func startFrontDoor(f *FrontDoor, addr net.Addr) (*frontDoorServer, error) {
	if len(f.Certificate.Certificate) == 0 {
		return nil, fmt.Errorf("device: FrontDoor.Certificate is empty; load it with LoadOrCreateFrontDoorCertificate")
	}
	ln := &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{f.Certificate}, NextProtos: []string{"http/1.1"}}
	s := &frontDoorServer{ln: ln, tlsConfig: tcfg, srv: &http.Server{
		Handler:           f.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
	}}
	s.srv.ErrorLog = discardLogger()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(ln) // the listener's connections are *tls.Conn, already handshaken
	}()
	return s, nil
}

// hand passes a connection to the front door, or closes it when the front
// door is shutting down.
func (s *frontDoorServer) hand(c net.Conn, done <-chan struct{}) {
	select {
	case s.ln.conns <- c:
	case <-done:
		c.Close()
	case <-s.ln.done:
		c.Close()
	}
}

func (s *frontDoorServer) close() {
	s.srv.Close()
	s.ln.Close()
	s.wg.Wait()
}

// routeToTLSPake decides whether a ClientHello belongs to tlspake: it
// carries pake, or a pre-shared key the device knows.
func routeToTLSPake(msg []byte, lookup func([]byte) (tlspake.PSK, bool)) bool {
	if msg == nil {
		return true // not a handshake at all: tlspake reports the error
	}
	info, err := tlspake.InspectClientHello(msg)
	if err != nil {
		return true // malformed: tlspake answers with the right alert
	}
	if info.HasPAKE {
		return true
	}
	for _, id := range info.PSKIdentities {
		if lookup != nil {
			if _, ok := lookup(id); ok {
				return true
			}
		}
	}
	return false
}
