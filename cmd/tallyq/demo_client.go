package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/tallyq/tallyq/api"
)

// apiClient calls the tallyq API as a frontend would, with the admin token.
type apiClient struct {
	base  string // http://127.0.0.1:port
	token string
	hc    *http.Client
}

// call sends a request and decodes a 2xx answer's JSON into out. Any other
// answer is an error quoting the API's error code and message (never the
// request body, which may hold a guardian's private record).
func (c *apiClient) call(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var eb api.ErrorBody
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Message != "" {
			return fmt.Errorf("%s %s: %s (%s): %s", method, path, resp.Status, eb.Error.Code, eb.Error.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// postJSON posts in as JSON. The encoded body is wiped afterwards, since a
// decryption request carries a guardian's secrets.
func (c *apiClient) postJSON(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("POST %s: encode the request: %w", path, err)
	}
	defer clear(body)
	return c.call(ctx, http.MethodPost, path, "application/json", bytes.NewReader(body), out)
}

func (c *apiClient) get(ctx context.Context, path string, out any) error {
	return c.call(ctx, http.MethodGet, path, "", nil, out)
}
