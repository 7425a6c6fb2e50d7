package tlspake

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// TestHybridAgainstCryptoTLS is the independent proof of our
// X25519MLKEM768 wiring: our client's ClientHello, carrying the hybrid key
// share (and signature_algorithms, so that a certificate server answers),
// goes to a crypto/tls TLS 1.3 server. crypto/tls picks X25519MLKEM768,
// and the server handshake traffic secret our code derives from its
// ServerHello, through the plain TLS 1.3 key schedule without the PAKE
// input, must decrypt and parse crypto/tls's EncryptedExtensions and
// Certificate. Only then does our ML-KEM encapsulation key, decapsulation
// and secret concatenation agree with another implementation.
func TestHybridAgainstCryptoTLS(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hybrid.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"hybrid.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, suite := range []uint16{TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256} {
		t.Run(CipherSuiteName(suite), func(t *testing.T) {
			cliConn, srvConn := net.Pipe()
			defer cliConn.Close()
			deadline := time.Now().Add(10 * time.Second)
			cliConn.SetDeadline(deadline)
			srvConn.SetDeadline(deadline)
			srv := tls.Server(srvConn, &tls.Config{
				MinVersion:       tls.VersionTLS13,
				Certificates:     []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}},
				CurvePreferences: []tls.CurveID{tls.X25519MLKEM768},
			})
			done := make(chan struct{})
			go func() {
				defer close(done)
				srv.Handshake() // fails once we stop; the flight is what matters
				srvConn.Close()
			}()
			defer func() { cliConn.Close(); <-done }()

			c := Client(cliConn, &Config{Code: []byte("K7Q2M9XH4V"), Groups: []CurveID{X25519MLKEM768}, CipherSuites: []uint16{suite}})
			c.in.Lock()
			defer c.in.Unlock()
			hs := &clientHandshakeState{c: c}
			if err := hs.makeClientHello(); err != nil {
				t.Fatal(err)
			}
			hs.hello.signatureAlgs = []uint16{0x0807} // ed25519
			if err := hs.sendClientHello(); err != nil {
				t.Fatal(err)
			}
			msg, err := c.readHandshake()
			if err != nil {
				t.Fatal(err)
			}
			sh, err := parseServerHello(msg)
			if err != nil {
				t.Fatal(err)
			}
			if sh.isHelloRetryRequest() || sh.serverShare.group != X25519MLKEM768 || sh.cipherSuite != suite {
				t.Fatalf("crypto/tls answered group %v suite %s (HRR %v)", sh.serverShare.group, CipherSuiteName(sh.cipherSuite), sh.isHelloRetryRequest())
			}
			if sh.hasPAKE {
				t.Fatal("crypto/tls answered the pake extension")
			}
			hs.suite = cipherSuiteByID(sh.cipherSuite)
			c.suite = hs.suite
			hs.transcript.start(hs.suite, false)
			hs.transcript.add(sh.raw)
			if len(hs.kxs) != 1 || hs.kxs[0].group() != X25519MLKEM768 {
				t.Fatalf("client key shares: %d", len(hs.kxs))
			}
			secret, err := hs.kxs[0].clientSharedSecret(sh.serverShare.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(secret) != 64 {
				t.Fatalf("hybrid shared secret of %d bytes, want 32 (ML-KEM) + 32 (X25519)", len(secret))
			}
			// The plain TLS 1.3 schedule: (EC)DHE input = the concatenated
			// shared secret alone, no ISK.
			h := hs.suite.hash
			hsSecret := handshakeSecret(h, earlySecret(h, nil), secret)
			sHS := deriveSecret(h, hsSecret, labelServerHandshake, hs.transcript.h)
			c.allowCCS = true
			if err := c.setReadKey(sHS); err != nil {
				t.Fatal(err)
			}
			ee, err := c.readHandshake()
			if err != nil {
				t.Fatalf("reading crypto/tls's EncryptedExtensions with our keys: %v", err)
			}
			if ee[0] != typeEncryptedExtensions {
				t.Fatalf("first protected message has type %d, want EncryptedExtensions", ee[0])
			}
			if _, err := parseEncryptedExtensions(ee); err != nil {
				t.Fatal(err)
			}
			cert, err := c.readHandshake()
			if err != nil {
				t.Fatalf("second protected message: %v", err)
			}
			if cert[0] != typeCertificate {
				t.Fatalf("second protected message has type %d, want Certificate", cert[0])
			}
		})
	}
}
