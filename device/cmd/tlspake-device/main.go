// Command tlspake-device is the tlspake device daemon: it serves HTTPS
// authenticated with the device's printed code, in front of the device's
// existing web UI (-upstream), a directory (-dir), or a built-in status
// page.
//
// Usage:
//
//	tlspake-device [serve] [flags]   run the daemon (the default)
//	tlspake-device label [flags]     write a printable label (PNG and SVG)
//	tlspake-device show-code [flags] print the code and its QR code
//	tlspake-device pairings list|revoke ID|revoke-all
//	tlspake-device open-pairing [-for 10m]
//	tlspake-device attempts
//
// Wrong codes are limited: a few free failures, then exponential backoff,
// and at most -max-failures-per-day in any 24 hours, kept across restarts.
// With -pairing-window, the code is accepted only for that long after
// start, after SIGUSR1, or after 'open-pairing'.
//
// Clients that authenticated with the code may keep a pairing (tlspake
// pair) and reconnect without it; pairings live in a store beside the
// code file, bounded by -max-pairings, and are revoked when the code
// changes.
//
// The code lives in a file (created with a fresh code on first start,
// mode 0600) or in $TLSPAKE_DEVICE_CODE. It is never logged; it is printed
// only by -show-code, show-code and label.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tlspake/pake/device"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// codeEnv is the environment variable that may hold the code.
const codeEnv = "TLSPAKE_DEVICE_CODE"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `tlspake-device serves HTTPS authenticated with the code on the device's label.

Usage:
  tlspake-device [serve] [flags]    run the daemon (default)
  tlspake-device label [flags]      write a printable label: FILE.png and FILE.svg
  tlspake-device show-code [flags]  print the code, its pairing URI and QR code
  tlspake-device pairings list      list the clients paired with this device
  tlspake-device pairings revoke ID | revoke-all
  tlspake-device open-pairing [-for 10m]  accept the code for a while (with -pairing-window)
  tlspake-device attempts           show the wrong-code limiter's state

Run 'tlspake-device COMMAND -h' for a command's flags.
The code is read from $TLSPAKE_DEVICE_CODE if set, else from -code-file
(created with a fresh code on first start).
`

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stdout, stderr)
	case "label":
		err = label(args, stdout, stderr)
	case "show-code":
		err = showCode(args, stdout, stderr)
	case "pairings":
		err = pairings(args, stdout, stderr)
	case "open-pairing":
		err = openPairing(args, stderr)
	case "attempts":
		err = attempts(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tlspake-device: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "tlspake-device: %v\n", err)
	return 1
}

// defaultCodeFile is the code file's default path: under $STATE_DIRECTORY
// (set by systemd's StateDirectory=), else $XDG_STATE_HOME, else
// ~/.local/state.
func defaultCodeFile() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return filepath.Join(d, "code")
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "tlspake-device", "code")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "tlspake-device", "code")
	}
	return "tlspake-device.code"
}

type codeFlags struct {
	file     string
	identity string
	pairings string
}

func (c *codeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.file, "code-file", defaultCodeFile(), "file holding the device code (created on first start, mode 0600)")
	fs.StringVar(&c.identity, "identity", "", "PAKE server identity of this device (clients must use the same; empty by default)")
	fs.StringVar(&c.pairings, "pairings", "", "file holding the pairings (default: pairings.json beside the code file)")
}

func (c *codeFlags) limiter(l device.Limits) (*device.AttemptLimiter, error) {
	return device.NewAttemptLimiter(filepath.Join(filepath.Dir(c.file), "attempts.json"), l)
}

func (c *codeFlags) pairingStore(max int) *device.PairingStore {
	path := c.pairings
	if path == "" {
		path = filepath.Join(filepath.Dir(c.file), "pairings.json")
	}
	return device.OpenPairingStore(path, max)
}

// load returns the code and where it came from.
func (c *codeFlags) load() (paircode.Code, string, bool, error) {
	if code, ok, err := device.CodeFromEnv(codeEnv); ok || err != nil {
		return code, "$" + codeEnv, false, err
	}
	code, created, err := device.LoadOrCreateCode(c.file)
	return code, c.file, created, err
}

func newFlagSet(name string, stderr io.Writer, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr, "Usage: tlspake-device [serve] [flags]\n\nServe HTTPS authenticated with the device code.\n\nFlags:\n")
	var cf codeFlags
	cf.register(fs)
	listen := fs.String("listen", "127.0.0.1:8443", "address to listen on")
	upstream := fs.String("upstream", "", "reverse-proxy every request to this URL (the device's existing web UI), e.g. http://127.0.0.1:80")
	dir := fs.String("dir", "", "serve static files from this directory")
	name := fs.String("name", "tlspake device", "device name shown on the status page and labels")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	show := fs.Bool("show-code", false, "print the code and its QR code on start (the code is a secret)")
	maxPairings := fs.Int("max-pairings", device.DefaultMaxPairings, "most pairings the device keeps (a full store refuses new ones)")
	noPairing := fs.Bool("no-pairing", false, "do not let clients pair: every connection needs the code")
	perDay := fs.Int("max-failures-per-day", 100, "most wrong-code attempts taken in any 24 hours")
	free := fs.Int("free-failures", 5, "wrong codes in a row before the device makes clients wait (doubling each time, up to 15 minutes)")
	noFront := fs.Bool("no-front-door", false, "answer browsers and other plain-TLS clients with an alert instead of a page explaining how to pair")
	preferPQ := fs.Bool("prefer-pq", false, "prefer the post-quantum hybrid X25519MLKEM768 over X25519 (costlier on small processors; both are always accepted)")
	window := fs.Duration("pairing-window", 0, "if set, accept the code only this long after start, SIGUSR1 or 'open-pairing' (paired clients always work)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var h slog.Handler
	switch *logFormat {
	case "text":
		h = slog.NewTextHandler(stderr, nil)
	case "json":
		h = slog.NewJSONHandler(stderr, nil)
	default:
		fmt.Fprintf(stderr, "-log-format must be text or json, not %q\n", *logFormat)
		return errUsage
	}
	if *upstream != "" && *dir != "" {
		fmt.Fprintln(stderr, "-upstream and -dir cannot be used together")
		return errUsage
	}
	log := slog.New(h)

	code, from, created, err := cf.load()
	if err != nil {
		return err
	}
	if created {
		log.Info("created a new device code", "file", from)
	}
	handler, err := buildHandler(*upstream, *dir, *name, cf.identity)
	if err != nil {
		return err
	}
	if *perDay < 1 || *free < 0 || *window < 0 {
		fmt.Fprintln(stderr, "-max-failures-per-day must be positive; -free-failures and -pairing-window not negative")
		return errUsage
	}
	limiter, err := cf.limiter(device.Limits{MaxPerDay: *perDay, FreeFailures: max(*free, 0), RequireWindow: *window > 0})
	if err != nil {
		return err
	}
	if *window > 0 {
		if err := limiter.OpenPairingWindow(*window); err != nil {
			return err
		}
		log.Info("pairing window open", "for", window.String())
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		go func() {
			for {
				select {
				case <-usr1:
					if err := limiter.OpenPairingWindow(*window); err != nil {
						log.Error("opening the pairing window", "err", err)
					} else {
						log.Info("pairing window open (SIGUSR1)", "for", window.String())
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	dcfg := &device.Config{Code: code, Identity: cf.identity, Logger: log, Attempts: limiter, PreferPostQuantum: *preferPQ}
	if !*noFront {
		cert, err := device.LoadOrCreateFrontDoorCertificate(filepath.Join(filepath.Dir(cf.file), "frontdoor.pem"), *name)
		if err != nil {
			return err
		}
		dcfg.FrontDoor = &device.FrontDoor{Certificate: cert, Name: *name}
	}
	if !*noPairing {
		store := cf.pairingStore(*maxPairings)
		n, err := store.RevokeOtherCodes(code)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Warn("the code has changed: revoked the pairings made with the old one", "revoked", n)
		}
		dcfg.Pairings = store
		handler = device.PairingHandler(store, code, handler)
	}
	l, err := device.Listen("tcp", *listen, dcfg)
	if err != nil {
		return err
	}
	if *show {
		// An unspecified listening address is no use as a hint.
		hint := l.Addr().String()
		if ap, err := netip.ParseAddrPort(hint); err == nil && ap.Addr().IsUnspecified() {
			hint = ""
		}
		if err := printCode(stdout, paircode.Invite{Code: code, Identity: cf.identity, Addr: hint}); err != nil {
			l.Close()
			return err
		}
	}
	log.Info("serving", "addr", l.Addr().String(), "identity", cf.identity, "code", from, "backend", backendName(*upstream, *dir))
	err = device.Serve(ctx, l, handler)
	log.Info("stopped")
	return err
}

func backendName(upstream, dir string) string {
	switch {
	case upstream != "":
		return "upstream " + upstream
	case dir != "":
		return "directory " + dir
	}
	return "status page"
}

func buildHandler(upstream, dir, name, identity string) (http.Handler, error) {
	switch {
	case upstream != "":
		u, err := url.Parse(upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-upstream %q is not an http:// or https:// URL", upstream)
		}
		return &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(u)
				r.SetXForwarded()
			},
		}, nil
	case dir != "":
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("-dir %q is not a directory", dir)
		}
		return http.FileServer(http.Dir(dir)), nil
	}
	return statusPage(name, identity), nil
}

var statusTmpl = template.Must(template.New("status").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Name}}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>{{.Name}}</h1>
<p>This connection is authenticated {{.How}}: no certificate, no third party.</p>
<table>
<tr><td>Protocol</td><td>TLS 1.3, {{.Suite}}</td></tr>
<tr><td>Key exchange</td><td>{{.Group}}</td></tr>
<tr><td>Authentication</td><td>{{.Auth}}</td></tr>
<tr><td>Device identity</td><td>{{if .Identity}}{{.Identity}}{{else}}(none){{end}}</td></tr>
<tr><td>Up since</td><td>{{.Since}}</td></tr>
</table>
</body></html>
`))

func statusPage(name, identity string) http.Handler {
	since := time.Now().UTC().Format(time.RFC3339)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		st, _ := device.ConnectionState(r)
		how, auth := "with the code on the device's label", st.PAKEScheme.String()
		if st.Auth == tlspake.AuthPSK {
			how, auth = "with a pairing made earlier with the device's code", "pairing (TLS 1.3 external PSK)"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		statusTmpl.Execute(w, map[string]string{
			"Name": name, "Identity": identity, "Since": since, "How": how, "Auth": auth,
			"Suite": tlspake.CipherSuiteName(st.CipherSuite), "Group": st.Group.String(),
		})
	})
}

func printCode(w io.Writer, inv paircode.Invite) error {
	qr, err := (device.Label{Invite: inv}).Terminal()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Device code: %s\nPairing URI: %s\n%s", inv.Code.Printed(), inv.URI(), qr)
	return nil
}

func showCode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("show-code", stderr, "Usage: tlspake-device show-code [flags]\n\nPrint the device code, its pairing URI and QR code (the code is a secret).\n\nFlags:\n")
	var cf codeFlags
	cf.register(fs)
	addr := fs.String("addr", "", "address hint to put in the pairing URI, e.g. 192.168.1.20:8443")
	if err := parse(fs, args); err != nil {
		return err
	}
	code, _, _, err := cf.load()
	if err != nil {
		return err
	}
	return printCode(stdout, paircode.Invite{Code: code, Identity: cf.identity, Addr: *addr})
}

func label(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("label", stderr, "Usage: tlspake-device label [flags]\n\nWrite a printable label with the QR code, the code and the device name\nto FILE.png and FILE.svg (they contain the code: keep them safe).\n\nFlags:\n")
	var cf codeFlags
	cf.register(fs)
	out := fs.String("o", "label", "output file name without extension")
	name := fs.String("name", "", "device name printed on the label")
	addr := fs.String("addr", "", "address hint to put in the pairing URI, e.g. 192.168.1.20:8443")
	term := fs.Bool("terminal", false, "also print the QR code on the terminal")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *addr != "" {
		if _, _, err := net.SplitHostPort(*addr); err != nil {
			fmt.Fprintf(stderr, "-addr %q is not host:port\n", *addr)
			return errUsage
		}
	}
	code, _, _, err := cf.load()
	if err != nil {
		return err
	}
	lb := device.Label{Invite: paircode.Invite{Code: code, Identity: cf.identity, Addr: *addr}, Name: *name}
	png, err := lb.PNG()
	if err != nil {
		return err
	}
	svg, err := lb.SVG()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{*out + ".png", png}, {*out + ".svg", svg}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", f.path)
	}
	if *term {
		return printCode(stdout, lb.Invite)
	}
	return nil
}

func pairings(args []string, stdout, stderr io.Writer) error {
	help := "Usage: tlspake-device pairings [flags] list | revoke ID | revoke-all\n\nList or revoke the clients paired with this device. A revoked client needs\nthe code again. Changing the code revokes every pairing made with the old one.\n\nFlags:\n"
	fs := newFlagSet("pairings", stderr, help)
	var cf codeFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	store := cf.pairingStore(0)
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errUsage
	}
	switch {
	case rest[0] == "list" && len(rest) == 1:
		list, err := store.List()
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintf(stderr, "no pairings (store %s)\n", store.Path())
		}
		for _, p := range list {
			client := p.Client
			if client == "" {
				client = "-"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", p.ID, p.Created.Format(time.RFC3339), client, p.Remote)
		}
		return nil
	case rest[0] == "revoke" && len(rest) == 2:
		if err := store.Revoke(rest[1]); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked %s\n", rest[1])
		return nil
	case rest[0] == "revoke-all" && len(rest) == 1:
		n, err := store.RevokeAll()
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked %d pairings\n", n)
		return nil
	}
	fs.Usage()
	return errUsage
}

func openPairing(args []string, stderr io.Writer) error {
	fs := newFlagSet("open-pairing", stderr, "Usage: tlspake-device open-pairing [flags]\n\nAccept the code for a while on a daemon started with -pairing-window\n(as a button press would). The running daemon sees it at once.\n\nFlags:\n")
	var cf codeFlags
	cf.register(fs)
	d := fs.Duration("for", 10*time.Minute, "how long to accept the code")
	closeIt := fs.Bool("close", false, "close the window instead")
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := cf.limiter(device.Limits{})
	if err != nil {
		return err
	}
	if *closeIt {
		if err := l.ClosePairingWindow(); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "pairing window closed")
		return nil
	}
	if *d <= 0 {
		fmt.Fprintln(stderr, "-for must be positive")
		return errUsage
	}
	if err := l.OpenPairingWindow(*d); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pairing window open for %s\n", *d)
	return nil
}

func attempts(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("attempts", stderr, "Usage: tlspake-device attempts [flags]\n\nShow the wrong-code limiter's state (give the daemon's limit flags, if it\nwas started with other values, for the waiting time to match).\n\nFlags:\n")
	var cf codeFlags
	cf.register(fs)
	perDay := fs.Int("max-failures-per-day", 100, "the daemon's -max-failures-per-day")
	free := fs.Int("free-failures", 5, "the daemon's -free-failures")
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := cf.limiter(device.Limits{MaxPerDay: max(*perDay, 1), FreeFailures: max(*free, 0)})
	if err != nil {
		return err
	}
	st, err := l.Status()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "failed attempts in the last 24h: %d\nfailures in a row: %d\nnext code attempt taken in: %s\n",
		st.FailuresLastDay, st.Consecutive, st.RetryAfter.Round(time.Second))
	if st.WindowOpen {
		fmt.Fprintf(stdout, "pairing window open until %s\n", st.WindowUntil.Format(time.RFC3339))
	}
	return nil
}
