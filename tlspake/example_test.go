package tlspake_test

import (
	"fmt"
	"io"
	"net"

	"github.com/tlspake/pake/tlspake"
)

// A client and a server that share a code complete a handshake and talk.
func Example() {
	server, client := net.Pipe()
	code := []byte("K7Q2M9XH4V") // the canonical form of a device code

	go func() {
		s := tlspake.Server(server, &tlspake.Config{Code: code})
		defer s.Close()
		io.Copy(s, s) // echo
	}()

	c := tlspake.Client(client, &tlspake.Config{Code: code})
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		fmt.Println(err)
		return
	}
	st := c.ConnectionState()
	fmt.Println(string(buf), tlspake.CipherSuiteName(st.CipherSuite), st.PAKEScheme)
	// Output: hello TLS_AES_128_GCM_SHA256 CPACE_X25519_SHA512
}
