package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tlspake/pake/tlspake"
)

// pairingPath is device.PairingPath (the client does not import device).
const pairingPath = "/.well-known/tlspake/pair"

// Pair authenticates to the device at addr with code and asks it to keep
// a pairing, so that later connections need no code. It returns the
// pairing, which both sides derived; with Options.Store set it is also
// saved there.
func Pair(ctx context.Context, addr, code string, opts *Options) (tlspake.Pairing, error) {
	inv, err := ParseCode(code)
	if err != nil {
		return tlspake.Pairing{}, withAddr(err, addr)
	}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Identity == "" {
		o.Identity = inv.Identity
	}
	store := o.Store
	o.Store = nil // pair with the code alone
	if store != nil {
		// A store we cannot write would leave the device holding a
		// pairing nobody can use: check it first.
		if _, err := store.List(); err != nil {
			return tlspake.Pairing{}, err
		}
	}
	c, err := dialCode(ctx, addr, inv.Code, &o)
	if err != nil {
		return tlspake.Pairing{}, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(30 * time.Second))
	}
	p, err := c.DerivePairing()
	if err != nil {
		return tlspake.Pairing{}, err
	}
	req, _ := http.NewRequest(http.MethodPost, "https://"+addr+pairingPath, strings.NewReader(""))
	req.Header.Set("User-Agent", "tlspake")
	if err := req.Write(c); err != nil {
		return tlspake.Pairing{}, &Error{Kind: Protocol, Addr: addr, Err: err}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return tlspake.Pairing{}, &Error{Kind: Protocol, Addr: addr, Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusNotFound {
		return tlspake.Pairing{}, fmt.Errorf("the device at %s does not accept pairings; give the code (-code) each time", addr)
	}
	if resp.StatusCode != http.StatusOK {
		return tlspake.Pairing{}, fmt.Errorf("the device at %s refused to pair: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	var answer struct {
		PairingID string `json:"pairing_id"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || !sameID(p.ID, answer.PairingID) {
		return tlspake.Pairing{}, fmt.Errorf("the device at %s answered the pairing request with an unexpected pairing id", addr)
	}
	if store != nil {
		if err := store.Save(addr, o.Identity, p); err != nil {
			return tlspake.Pairing{}, err
		}
	}
	return p, nil
}

func withAddr(err error, addr string) error {
	if ce, ok := err.(*Error); ok {
		ce.Addr = addr
	}
	return err
}
