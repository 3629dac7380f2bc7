package api

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"testing"
)

// checkClientError fails unless err is nil or a client error the API
// documents: an *Error with a 4xx status or a body over the limit.
func checkClientError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return
	}
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status < 400 || apiErr.Status > 499 || apiErr.Code == "" || apiErr.Message == "" {
		t.Fatalf("error %v (%T) is not a documented client error", err, err)
	}
}

func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []struct {
		ct, body string
	}{
		{"application/json", `{"reason":"x"}`},
		{"application/json", `{"reason":`},
		{"application/json", `{} {}`},
		{"application/json; charset=utf-8", `{"force":true}`},
		{"text/plain", `{}`},
		{"", ""},
		{"application/json", `[1]`},
		{"application/json", `null`},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 1024)
		var req JobActionRequest
		err := decodeOptionalJSON(r, &req)
		checkClientError(t, err)
		if err == nil && len(body) > 0 {
			if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/json" {
				t.Fatalf("a body sent as %q was accepted", contentType)
			}
		}
	})
}

func FuzzListParams(f *testing.F) {
	for _, q := range []string{"", "electionId=3&status=QUEUED&limit=10&after=abc", "limit=0", "status=x&status=y", "a=%zz", "electionId=-1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "/api/jobs", nil)
		r.URL.RawQuery = rawQuery
		p, err := listParams(r)
		checkClientError(t, err)
		if err != nil {
			return
		}
		if p.Limit < 0 || p.Limit > maxListLimit || (p.ElectionID != nil && *p.ElectionID < 1) || (p.Status != "" && !p.Status.Valid()) {
			t.Fatalf("query %q gave out-of-range parameters %+v", rawQuery, p)
		}
	})
}
