// Command tlspake talks to tlspake devices: HTTPS authenticated with the
// code printed on the device's label, with no certificate.
//
// Usage:
//
//	tlspake get -code CODE [flags] https://DEVICE:PORT/PATH
//	tlspake proxy -code CODE [-listen 127.0.0.1:8080] https://DEVICE:PORT
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
  tlspake get -code CODE [flags] https://DEVICE:PORT/PATH    fetch a URL (like curl)
  tlspake proxy -code CODE [flags] https://DEVICE:PORT       browse the device through a local proxy

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
	code     string
	identity string
	timeout  time.Duration
	quiet    bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.code, "code", "", "the device code or pairing URI (default $"+codeEnv+")")
	fs.StringVar(&c.identity, "identity", "", "the device's PAKE identity, if it has one (a pairing URI carries it)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "time limit for connecting and for the whole request")
	fs.BoolVar(&c.quiet, "q", false, "quiet: no progress on standard error")
}

func (c *common) resolveCode(stderr io.Writer) error {
	if c.code == "" {
		c.code = os.Getenv(codeEnv)
	}
	if c.code == "" {
		fmt.Fprintln(stderr, "tlspake: give the device code with -code (or $"+codeEnv+")")
		return errUsage
	}
	return nil
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

// progress prints "pairing with ADDR … ok, SUITE, GROUP, CPace" lines.
func progress(c *common, stderr io.Writer) func(string, tlspake.ConnectionState) {
	return func(addr string, st tlspake.ConnectionState) {
		if !c.quiet {
			fmt.Fprintf(stderr, "pairing with %s … ok, %s, %s, CPace\n", addr, tlspake.CipherSuiteName(st.CipherSuite), st.Group)
		}
	}
}

func get(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("get", "Usage: tlspake get -code CODE [flags] https://DEVICE:PORT/PATH\n\nFetch a URL from a tlspake device; the body goes to standard output.\n\nFlags:\n", stderr)
	var c common
	c.register(fs)
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
	if err := c.resolveCode(stderr); err != nil {
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
	if _, err := client.ParseCode(c.code); err != nil {
		return err
	}
	tr := &client.Transport{Code: c.code, Options: client.Options{Identity: c.identity, OnHandshake: progress(&c, stderr)}}
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
	fs := newFlagSet("proxy", "Usage: tlspake proxy -code CODE [flags] https://DEVICE:PORT\n\nServe a plain-HTTP proxy on loopback that forwards every request to the device\nover an authenticated connection, so a browser can use the device's web UI.\n\nFlags:\n", stderr)
	var c common
	c.register(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "address for the local proxy (loopback only unless -allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback -listen address (anyone who reaches it uses your pairing)")
	target, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if err := c.resolveCode(stderr); err != nil {
		return err
	}
	if _, err := client.ParseCode(c.code); err != nil {
		return err
	}
	if !isLoopback(*listen) && !*allowRemote {
		fmt.Fprintf(stderr, "tlspake: -listen %s is not a loopback address; anyone reaching it would use your pairing (add -allow-remote to insist)\n", *listen)
		return errUsage
	}
	target.Path, target.RawQuery = "", ""
	tr := &client.Transport{Code: c.code, Options: client.Options{Identity: c.identity, OnHandshake: progress(&c, stderr)}}
	defer tr.CloseIdleConnections()

	// Check the code once before serving, so a wrong one is reported now.
	if !c.quiet {
		fmt.Fprintf(stderr, "connecting to %s …\n", target.Host)
	}
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	conn, err := client.Dial(pctx, target.Host, c.code, &client.Options{Identity: c.identity, OnHandshake: progress(&c, stderr)})
	cancel()
	if err != nil {
		return err
	}
	conn.Close()

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	base := "http://" + l.Addr().String()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
		},
		Transport: tr,
		ModifyResponse: func(resp *http.Response) error {
			// Keep the browser on the proxy when the device redirects to
			// its own absolute URL.
			if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "https://"+target.Host) {
				resp.Header.Set("Location", base+strings.TrimPrefix(loc, "https://"+target.Host))
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
