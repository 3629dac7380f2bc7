package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary methods, paths and conditional and range
// headers to the web page's handler: every answer carries the security
// headers; GET and HEAD of an embedded file answer it whole (200), a part
// of it as the Range asks (206), 304 or 416; other paths 404; other
// methods 405 naming GET and HEAD.
func FuzzHandler(f *testing.F) {
	h := Handler().(*handler)
	for _, s := range []struct{ method, target, rangeHdr, ifNoneMatch, ifModifiedSince string }{
		{"GET", "/", "", "", ""},
		{"HEAD", "/assets/app.js", "", "", ""},
		{"GET", "/assets/app.css", "bytes=0-9", "", ""},
		{"GET", "/assets/app.css", "bytes=-5", "", ""},
		{"GET", "/assets/app.css", "bytes=0-0,5-9", "", ""},
		{"GET", "/assets/app.css", "bytes=999999-", "", ""},
		{"GET", "/", "", h.files["/"].etag, ""},
		{"GET", "/", "", "*", "Mon, 02 Jan 2006 15:04:05 GMT"},
		{"GET", "/index.html", "", "", ""},
		{"GET", "/assets/../index.html", "", "", ""},
		{"POST", "/", "", "", ""},
		{"DELETE", "/assets/app.js", "items=0-1", "", ""},
	} {
		f.Add(s.method, s.target, s.rangeHdr, s.ifNoneMatch, s.ifModifiedSince)
	}
	f.Fuzz(func(t *testing.T, method, target, rangeHdr, ifNoneMatch, ifModifiedSince string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r, err := http.NewRequest(method, "http://tallyq.test/", nil)
		if err != nil {
			return // not a method a server hands over
		}
		r.URL, r.RequestURI = u, target
		for k, v := range map[string]string{"Range": rangeHdr, "If-None-Match": ifNoneMatch, "If-Modified-Since": ifModifiedSince} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		what := fmt.Sprintf("%s %q (Range %q, If-None-Match %q)", r.Method, target, rangeHdr, ifNoneMatch)
		if w.Header().Get("Content-Security-Policy") != ContentSecurityPolicy || w.Header().Get("X-Content-Type-Options") != "nosniff" ||
			w.Header().Get("X-Frame-Options") != "DENY" || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("%s: status %d without the security headers: %v", what, w.Code, w.Header())
		}
		file, known := h.files[u.Path]
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
				t.Fatalf("%s: status %d, Allow %q", what, w.Code, w.Header().Get("Allow"))
			}
		case !known:
			if w.Code != http.StatusNotFound {
				t.Fatalf("%s: status %d for a path that is no file", what, w.Code)
			}
		case w.Code == http.StatusOK:
			if w.Header().Get("ETag") != file.etag || w.Header().Get("Content-Type") != file.contentType ||
				(r.Method == http.MethodGet && !bytes.Equal(w.Body.Bytes(), file.body)) {
				t.Fatalf("%s: 200 with another file or headers: %v", what, w.Header())
			}
		case w.Code == http.StatusPartialContent:
			var first, last, size int
			if _, err := fmt.Sscanf(w.Header().Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &size); err == nil {
				if size != len(file.body) || first < 0 || last < first || last >= size ||
					(r.Method == http.MethodGet && !bytes.Equal(w.Body.Bytes(), file.body[first:last+1])) {
					t.Fatalf("%s: 206 %q with %d bytes that are not that part", what, w.Header().Get("Content-Range"), w.Body.Len())
				}
			} else if !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
				t.Fatalf("%s: 206 without a Content-Range: %v", what, w.Header())
			}
		case w.Code == http.StatusNotModified, w.Code == http.StatusRequestedRangeNotSatisfiable, w.Code == http.StatusPreconditionFailed:
		default:
			t.Fatalf("%s: status %d", what, w.Code)
		}
	})
}
