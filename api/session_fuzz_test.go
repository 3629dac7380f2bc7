package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// noJobs is a JobService for routes that must not reach the engine.
type noJobs struct{ JobService }

// FuzzSignIn posts arbitrary bodies to POST /api/session: none may sign
// in, set a cookie or fail otherwise than as a documented client error.
// The store's database is unreachable, which is fine: a refused sign-in
// never reaches it.
func FuzzSignIn(f *testing.F) {
	pool, err := pgxpool.New(context.Background(), "postgres://fuzz@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		f.Fatal(err)
	}
	defer pool.Close()
	store, err := NewSessionStore(pool, SessionConfig{})
	if err != nil {
		f.Fatal(err)
	}
	const token = "fuzz-admin-token-0123456789"
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"token":"wrong-token-0123456789"}`},
		{"application/json", `{"token":""}`},
		{"application/json", `{"token":1}`},
		{"application/json", `{"token":"x","role":"admin"}`},
		{"application/json", `{"token":"` + token[:len(token)-1] + `"}`},
		{"text/plain", `{"token":"x"}`},
		{"application/json", `[`},
		{"", ""},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		if bytes.Contains(body, []byte(token)) {
			return // the one body that may sign in
		}
		h, err := New(Config{Jobs: noJobs{}, AdminToken: token, Sessions: store})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/api/session", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("status %d for %q sent as %q: %s", w.Code, body, contentType, w.Body)
		}
		if cookies := w.Result().Cookies(); len(cookies) != 0 {
			t.Fatalf("a refused sign-in set cookies %v", cookies)
		}
	})
}
