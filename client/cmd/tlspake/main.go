// Command tlspake talks to tlspake devices: HTTPS authenticated with the
// code printed on the device's label, with no certificate.
//
// Usage:
//
//	tlspake pair -code CODE https://DEVICE:PORT
//	tlspake get [-code CODE] [flags] https://DEVICE:PORT/PATH
//	tlspake proxy [-code CODE] [-listen 127.0.0.1:8080] https://DEVICE:PORT
//	tlspake devices
//	tlspake forget https://DEVICE:PORT
//
// pair authenticates with the code once and keeps a pairing in the store
// of known devices ($XDG_CONFIG_HOME/tlspake/devices.json); get and proxy
// then need no code.
//
// get works like a small curl: the body goes to standard output (or -o
// FILE), progress and errors to standard error. proxy serves a plain-HTTP
// proxy on loopback so that an ordinary browser can use the device's web
// UI at http://127.0.0.1:8080/ (a secure context for browsers).
//
// CODE is the code from the label (any case, with or without the dash) or
// the pairing URI from its QR code; it may also come from $TLSPAKE_CODE.
// The code is never printed. Exit status: 0 success, 1 failure, 2 usage.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tlspake/pake/client"
	"github.com/tlspake/pake/tlspake"
)

const codeEnv = "TLSPAKE_CODE"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	status := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(status)
}

const usage = `tlspake talks HTTPS to tlspake devices, authenticated with the code on the device's label.

Usage:
  tlspake pair -code CODE https://DEVICE:PORT              pair once; later commands need no code
  tlspake get [-code CODE] [flags] https://DEVICE:PORT/PATH  fetch a URL (like curl)
  tlspake proxy [-code CODE] [flags] https://DEVICE:PORT     browse the device through a local proxy
  tlspake devices                                          list paired devices
  tlspake forget https://DEVICE:PORT                       remove a device's pairing

CODE is the code on the label (e.g. K7Q2M-9XH4V, any case) or the pairing URI of
its QR code (tlspake:...); it may also be given in $TLSPAKE_CODE.
Run 'tlspake COMMAND -h' for a command's flags.
`

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "get":
		err = get(ctx, args[1:], stdin, stdout, stderr)
	case "proxy":
		err = proxy(ctx, args[1:], stderr)
	case "pair":
		err = pair(ctx, args[1:], stderr)
	case "devices":
		err = devices(args[1:], stdout, stderr)
	case "forget":
		err = forget(args[1:], stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tlspake: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "tlspake: %v\n", err)
	return 1
}

// headerFlags collects repeated -H flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

type common struct {
	code      string
	identity  string
	timeout   time.Duration
	quiet     bool
	storePath string
	pskID     string
	pskHex    string
}

func (c *common) register(fs *flag.FlagSet, raw bool) {
	fs.StringVar(&c.code, "code", "", "the device code or pairing URI (default $"+codeEnv+"; not needed once paired)")
	fs.StringVar(&c.identity, "identity", "", "the device's PAKE identity, if it has one (a pairing URI carries it)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "time limit for connecting and for the whole request")
	fs.BoolVar(&c.quiet, "q", false, "quiet: no progress on standard error")
	fs.StringVar(&c.storePath, "store", "", "store of paired devices (default $XDG_CONFIG_HOME/tlspake/devices.json)")
	if raw {
		fs.StringVar(&c.pskID, "psk-identity", "", "use a raw external PSK with this identity instead of a code or pairing (for interoperability checks)")
		fs.StringVar(&c.pskHex, "psk-hex", "", "the raw external PSK, in hex (with -psk-identity; SHA-256)")
	}
}

func (c *common) store() (*client.Store, error) {
	if c.storePath == "" {
		p, err := client.DefaultStorePath()
		if err != nil {
			return nil, err
		}
		c.storePath = p
	}
	return client.OpenStore(c.storePath), nil
}

// resolve checks the code (if any) locally and returns the client
// options: the code, the store of pairings, or a raw PSK.
func (c *common) resolve(stderr io.Writer) (client.Options, error) {
	opts := client.Options{Identity: c.identity, OnHandshake: progress(c, stderr)}
	if c.code == "" {
		c.code = os.Getenv(codeEnv)
	}
	if (c.pskID == "") != (c.pskHex == "") {
		fmt.Fprintln(stderr, "tlspake: -psk-identity and -psk-hex go together")
		return opts, errUsage
	}
	if c.pskID != "" {
		if c.code != "" {
			fmt.Fprintln(stderr, "tlspake: -psk-identity cannot be combined with a code")
			return opts, errUsage
		}
		secret, err := hex.DecodeString(c.pskHex)
		if err != nil || len(secret) == 0 {
			fmt.Fprintln(stderr, "tlspake: -psk-hex must be a non-empty hex string")
			return opts, errUsage
		}
		opts.PSKs = []tlspake.PSK{{Identity: []byte(c.pskID), Secret: secret}}
		return opts, nil
	}
	if c.code != "" {
		if _, err := client.ParseCode(c.code); err != nil {
			return opts, err
		}
	}
	st, err := c.store()
	if err != nil {
		return opts, err
	}
	opts.Store = st
	return opts, nil
}

func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}

func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (*url.URL, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "tlspake: expected exactly one URL")
		fs.Usage()
		return nil, errUsage
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		fmt.Fprintf(stderr, "tlspake: %q is not an https://DEVICE:PORT/ URL\n", fs.Arg(0))
		return nil, errUsage
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "443")
	}
	return u, nil
}

// progress prints "pairing with ADDR … ok, SUITE, GROUP, CPace" lines (or
// "paired device" when a stored pairing authenticated the connection).
func progress(c *common, stderr io.Writer) func(string, tlspake.ConnectionState) {
	return func(addr string, st tlspake.ConnectionState) {
		if c.quiet {
			return
		}
		how := "CPace"
		verb := "pairing with"
		if st.Auth == tlspake.AuthPSK {
			how, verb = "PSK", "connected to"
			if c.pskID == "" {
				how = "stored pairing"
			}
		}
		fmt.Fprintf(stderr, "%s %s … ok, %s, %s, %s\n", verb, addr, tlspake.CipherSuiteName(st.CipherSuite), st.Group, how)
	}
}

func get(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("get", "Usage: tlspake get [-code CODE] [flags] https://DEVICE:PORT/PATH\n\nFetch a URL from a tlspake device; the body goes to standard output.\nWithout -code, the pairing made with 'tlspake pair' is used.\n\nFlags:\n", stderr)
	var c common
	c.register(fs, true)
	out := fs.String("o", "", "write the body to `FILE` instead of standard output")
	include := fs.Bool("i", false, "include the response status line and headers in the output")
	method := fs.String("X", "", "request `METHOD` (default GET, or POST with -d)")
	data := fs.String("d", "", "request body `DATA`; @FILE reads a file, @- standard input")
	fail := fs.Bool("f", false, "fail (exit 1) on HTTP status 400 or above")
	var headers headerFlags
	fs.Var(&headers, "H", "extra request header `'Name: value'` (repeatable)")
	u, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	opts, err := c.resolve(stderr)
	if err != nil {
		return err
	}
	var body io.Reader
	m := *method
	if *data != "" {
		switch {
		case *data == "@-":
			body = stdin
		case strings.HasPrefix(*data, "@"):
			f, err := os.Open((*data)[1:])
			if err != nil {
				return err
			}
			defer f.Close()
			body = f
		default:
			body = strings.NewReader(*data)
		}
		if m == "" {
			m = http.MethodPost
		}
	}
	if m == "" {
		m = http.MethodGet
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, m, u.String(), body)
	if err != nil {
		return err
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(stderr, "tlspake: -H %q is not 'Name: value'\n", h)
			return errUsage
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	tr := &client.Transport{Code: c.code, Options: opts}
	defer tr.CloseIdleConnections()
	if !c.quiet {
		fmt.Fprintf(stderr, "connecting to %s …\n", u.Host)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			return ce
		}
		return err
	}
	defer resp.Body.Close()
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if *include {
		fmt.Fprintf(w, "%s %s\r\n", resp.Proto, resp.Status)
		resp.Header.Write(w)
		fmt.Fprint(w, "\r\n")
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	if !c.quiet {
		fmt.Fprintf(stderr, "%s, %d bytes\n", resp.Status, n)
	}
	if *fail && resp.StatusCode >= 400 {
		return fmt.Errorf("the device answered %s", resp.Status)
	}
	return nil
}

// sameOrigin reports whether u points at the device itself: https, no
// user information, and the same host and port (443 when absent).
func sameOrigin(u, device *url.URL) bool {
	if u.Scheme != "https" || u.User != nil || u.Opaque != "" {
		return false
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return strings.EqualFold(u.Hostname(), device.Hostname()) && port == device.Port()
}

// displayAddr turns a listening address into one a browser can open:
// an unspecified host (0.0.0.0 or ::) becomes localhost.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// isLoopback reports whether a listen address stays on this machine.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func proxy(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("proxy", "Usage: tlspake proxy [-code CODE] [flags] https://DEVICE:PORT\n\nServe a plain-HTTP proxy on loopback that forwards every request to the device\nover an authenticated connection, so a browser can use the device's web UI.\nWithout -code, the pairing made with 'tlspake pair' is used.\n\nFlags:\n", stderr)
	var c common
	c.register(fs, false)
	listen := fs.String("listen", "127.0.0.1:8080", "address for the local proxy (loopback only unless -allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback -listen address (anyone who reaches it uses your pairing)")
	target, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	opts, err := c.resolve(stderr)
	if err != nil {
		return err
	}
	if !isLoopback(*listen) && !*allowRemote {
		fmt.Fprintf(stderr, "tlspake: -listen %s is not a loopback address; anyone reaching it would use your pairing (add -allow-remote to insist)\n", *listen)
		return errUsage
	}
	target.Path, target.RawQuery = "", ""
	tr := &client.Transport{Code: c.code, Options: opts}
	defer tr.CloseIdleConnections()

	// Connect once before serving, so a wrong code is reported now.
	if !c.quiet {
		fmt.Fprintf(stderr, "connecting to %s …\n", target.Host)
	}
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	conn, err := client.Dial(pctx, target.Host, c.code, &opts)
	cancel()
	if err != nil {
		return err
	}
	conn.Close()

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	base := "http://" + displayAddr(l.Addr().String())
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
		},
		Transport: tr,
		ModifyResponse: func(resp *http.Response) error {
			// Keep the browser on the proxy when the device redirects to
			// its own absolute URL (and only then).
			if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && sameOrigin(loc, target) {
				resp.Header.Set("Location", base+loc.RequestURI())
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fmt.Fprintf(stderr, "tlspake: %s %s: %v\n", r.Method, r.URL.Path, err)
			http.Error(w, "tlspake proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stderr, "proxy ready: open %s/ in a browser (forwarding to https://%s); Ctrl-C to stop\n", base, target.Host)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-errc
	fmt.Fprintln(stderr, "proxy stopped")
	return nil
}

func deviceArg(fs *flag.FlagSet, args []string, stderr io.Writer) (string, error) {
	u, err := parseArgs(fs, args, stderr)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

func pair(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("pair", "Usage: tlspake pair -code CODE [flags] https://DEVICE:PORT\n\nAuthenticate with the code once and keep a pairing, so that later get and\nproxy commands need no code.\n\nFlags:\n", stderr)
	var c common
	c.register(fs, false)
	addr, err := deviceArg(fs, args, stderr)
	if err != nil {
		return err
	}
	if c.code == "" {
		c.code = os.Getenv(codeEnv)
	}
	if c.code == "" {
		fmt.Fprintln(stderr, "tlspake: pairing needs the device code: give it with -code")
		return errUsage
	}
	opts, err := c.resolve(stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if !c.quiet {
		fmt.Fprintf(stderr, "connecting to %s …\n", addr)
	}
	p, err := client.Pair(ctx, addr, c.code, &opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "paired with %s (pairing %x), saved in %s\n", addr, p.ID, opts.Store.Path())
	return nil
}

func devices(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("devices", "Usage: tlspake devices [flags]\n\nList the paired devices.\n\nFlags:\n", stderr)
	var c common
	c.register(fs, false)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	st, err := c.store()
	if err != nil {
		return err
	}
	list, err := st.List()
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(stderr, "no paired devices (store %s)\n", st.Path())
		return nil
	}
	for _, d := range list {
		id := d.Identity
		if id == "" {
			id = "-"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\tpaired %s\n", d.Addr, id, d.PairingID, d.Paired.Format(time.RFC3339))
	}
	return nil
}

func forget(args []string, stderr io.Writer) error {
	fs := newFlagSet("forget", "Usage: tlspake forget [flags] https://DEVICE:PORT\n\nRemove a device's pairing from the store.\n\nFlags:\n", stderr)
	var c common
	c.register(fs, false)
	addr, err := deviceArg(fs, args, stderr)
	if err != nil {
		return err
	}
	st, err := c.store()
	if err != nil {
		return err
	}
	found, err := st.Forget(addr, c.identity)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no pairing with %s in %s", addr, st.Path())
	}
	fmt.Fprintf(stderr, "forgot %s\n", addr)
	return nil
}
