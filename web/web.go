// Package web is tallyq's web page: one HTML document with its script and
// style sheet, embedded in the binary and served by Handler. The page talks
// to the JSON API only: it signs in by posting a token once to
// /api/session, then relies on the HttpOnly session cookie and sends the
// session's CSRF token on every state-changing request.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/textproto"
	"path"
	"strconv"
	"strings"
	"time"
)

// ContentSecurityPolicy is sent with every response of Handler: the page
// loads its script, styles and data from its own origin only and runs no
// inline script or style, so injected markup cannot execute.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed index.html assets
var files embed.FS

// file is one embedded file ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// handler serves the page's files from memory.
type handler struct {
	files map[string]file // by URL path
}

// Handler returns the handler of the web page: GET / answers the page and
// GET /assets/NAME its files; any other path is 404. Every response carries
// ContentSecurityPolicy and X-Content-Type-Options: nosniff. Files are
// revalidated through their ETag, so a new binary's page is never stale.
func Handler() http.Handler {
	h := &handler{files: map[string]file{}}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		urlPath := "/" + name
		if name == "index.html" {
			urlPath = "/"
		}
		sum := sha256.Sum256(body)
		h.files[urlPath] = file{body: body, contentType: contentType(name), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in; reading them cannot fail.
		panic("web: read the embedded files: " + err.Error())
	}
	return h
}

// contentType is the media type of an embedded file, from a fixed table so
// that the answer does not depend on the host's mime.types.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	if rng := r.Header.Get("Range"); rng != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Range", withoutEmptySuffixRanges(rng, len(f.body)))
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// withoutEmptySuffixRanges drops the suffix ranges of length 0 ("-0",
// "- 00", "-+0") from a Range header: net/http serves one as a 206 of no
// bytes with an impossible Content-Range ("bytes 10-9/10"), where RFC 9110
// §14.1.1 makes it unsatisfiable. A header left with no range asks for one
// past the end, which ServeContent answers 416 once the preconditions are
// checked.
func withoutEmptySuffixRanges(rng string, size int) string {
	specs, ok := strings.CutPrefix(rng, "bytes=")
	if !ok {
		return rng // not byte ranges: ServeContent ignores it
	}
	var kept []string
	dropped := false
	for spec := range strings.SplitSeq(specs, ",") {
		if isEmptySuffix(spec) {
			dropped = true
			continue
		}
		kept = append(kept, spec)
	}
	switch {
	case !dropped:
		return rng
	case textproto.TrimString(strings.Join(kept, "")) == "":
		return fmt.Sprintf("bytes=%d-", size)
	}
	return "bytes=" + strings.Join(kept, ",")
}

// isEmptySuffix reports whether net/http reads spec, one range of a Range
// header, as the last 0 bytes: it parses ranges as this does (its
// parseRange, which it does not export).
func isEmptySuffix(spec string) bool {
	start, end, ok := strings.Cut(textproto.TrimString(spec), "-")
	if !ok || textproto.TrimString(start) != "" {
		return false
	}
	end = textproto.TrimString(end)
	if end == "" || end[0] == '-' {
		return false
	}
	n, err := strconv.ParseInt(end, 10, 64)
	return err == nil && n == 0
}
