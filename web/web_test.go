package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func checkSecurityHeaders(t *testing.T, path string, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
		t.Errorf("%s: Content-Security-Policy %q, want %q", path, got, ContentSecurityPolicy)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", path, got)
	}
}

func TestHandlerServesFilesWithTheirTypes(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/":               "text/html; charset=utf-8",
		"/assets/app.js":  "text/javascript; charset=utf-8",
		"/assets/app.css": "text/css; charset=utf-8",
	} {
		resp := get(t, h, http.MethodGet, path, nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, want)
		}
		if len(body) == 0 {
			t.Errorf("GET %s: empty body", path)
		}
		checkSecurityHeaders(t, path, resp)
	}
}

func TestHandlerNotFound(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/assets/nope.js", "/assets/", "/assets", "/index.html", "/assets/../index.html", "/other", "/assets/app.js/x"} {
		resp := get(t, h, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
		checkSecurityHeaders(t, path, resp)
	}
}

func TestHandlerMethods(t *testing.T) {
	h := Handler()
	resp := get(t, h, http.MethodPost, "/", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d, Allow %q; want 405 and GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp = get(t, h, http.MethodHead, "/assets/app.js", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD /assets/app.js: %d, %d body bytes, Content-Type %q", resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
	}
}

func TestHandlerRevalidatesByETag(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/assets/app.js", nil)
	etag := first.Header.Get("ETag")
	if etag == "" || first.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q; want an ETag and no-cache", etag, first.Header.Get("Cache-Control"))
	}
	again := get(t, h, http.MethodGet, "/assets/app.js", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("GET with If-None-Match of the current ETag: %d, want 304", again.StatusCode)
	}
	if other := get(t, h, http.MethodGet, "/assets/app.css", nil).Header.Get("ETag"); other == etag {
		t.Errorf("app.css and app.js share the ETag %s", etag)
	}
}

// TestPageFollowsThePolicy checks what the CSP would otherwise break or
// allow: no inline script, no inline style, no handler attributes, and
// every referenced asset exists.
func TestPageFollowsThePolicy(t *testing.T) {
	h := Handler()
	page, _ := io.ReadAll(get(t, h, http.MethodGet, "/", nil).Body)
	html := string(page)
	for _, m := range regexp.MustCompile(`<script\b[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(m, `src="/assets/`) {
			t.Errorf("inline script %s", m)
		}
	}
	for _, bad := range []*regexp.Regexp{regexp.MustCompile(`<style\b`), regexp.MustCompile(`\sstyle=`), regexp.MustCompile(`\son[a-z]+=`), regexp.MustCompile(`javascript:`)} {
		if loc := bad.FindStringIndex(html); loc != nil {
			t.Errorf("the page has %q, which the CSP blocks", html[loc[0]:min(loc[1]+30, len(html))])
		}
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(html, -1) {
		if resp := get(t, h, http.MethodGet, m[1], nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the page references %s, which answers %d", m[1], resp.StatusCode)
		}
	}
	// The script must never store or send secrets where they leak.
	script, _ := io.ReadAll(get(t, h, http.MethodGet, "/assets/app.js", nil).Body)
	for _, bad := range []string{"localStorage", "sessionStorage", "innerHTML", "document.cookie", "eval("} {
		if strings.Contains(string(script), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}

// A suffix range of no bytes, however net/http would spell it, is not
// satisfiable: 416, not a 206 of nothing; other ranges beside it are served.
func TestEmptySuffixRangesAreNotSatisfiable(t *testing.T) {
	h := Handler()
	for rng, want := range map[string]int{
		"bytes=-0":      http.StatusRequestedRangeNotSatisfiable,
		"bytes=- 0":     http.StatusRequestedRangeNotSatisfiable,
		"bytes= -00 ":   http.StatusRequestedRangeNotSatisfiable,
		"bytes=-+0":     http.StatusRequestedRangeNotSatisfiable,
		"bytes=-0,-0":   http.StatusRequestedRangeNotSatisfiable,
		"bytes=-0, 0-4": http.StatusPartialContent,
		"bytes=-1":      http.StatusPartialContent,
		"bytes=--0":     http.StatusRequestedRangeNotSatisfiable, // not a range at all
	} {
		resp := get(t, h, "GET", "/", http.Header{"Range": {rng}})
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Errorf("Range %q: %d %q, want %d", rng, resp.StatusCode, resp.Header.Get("Content-Range"), want)
		}
		if resp.StatusCode == http.StatusPartialContent && len(body) == 0 {
			t.Errorf("Range %q: a 206 of no bytes", rng)
		}
	}
}
