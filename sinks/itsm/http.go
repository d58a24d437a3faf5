package itsm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/quellhq/quell/sinks"
)

// client speaks JSON to one ITSM API with basic or bearer auth.
type client struct {
	http              *http.Client
	base              string
	user, pass, token string
	// hint tells an operator what to check when the API refuses the credentials.
	hint string
}

func newClient(base string, timeout time.Duration, user, pass, token, hint string) *client {
	return &client{http: &http.Client{Timeout: timeout}, base: base, user: user, pass: pass, token: token, hint: hint}
}

// do sends in (when not nil) as JSON and decodes a 2xx answer into out
// (when not nil). Errors are classified as sinks.CheckResponse does.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return &sinks.Permanent{Err: err}
		}
		body = bytes.NewReader(b)
	}
	url := c.base + path
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return &sinks.Permanent{Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "quell")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "":
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	if err := sinks.CheckResponse(resp, method+" "+url); err != nil {
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return fmt.Errorf("%w (%s)", err, c.hint)
		}
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		// Retrying could repeat what the API already did.
		return &sinks.Permanent{Err: fmt.Errorf("%s %s answered %s with a body that is not the documented JSON: %w", method, url, resp.Status, err)}
	}
	return nil
}
