package api_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/tallyq/tallyq/api"
)

func TestChainTriesEachAuthenticator(t *testing.T) {
	admin, err := api.NewTokenAuthenticator(testToken, api.Identity{Subject: "admin", Role: api.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	other, err := api.NewTokenAuthenticator("another-token-0123456789", api.Identity{Subject: "other", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	chain := api.Chain{admin, other}
	for _, tc := range []struct {
		header, subject string
	}{
		{"Bearer " + testToken, "admin"},
		{"Bearer another-token-0123456789", "other"},
		{"Bearer neither-token-0123456789", ""},
		{"", ""},
	} {
		r := httptest.NewRequest("GET", "/api/jobs", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		id, err := chain.Authenticate(r)
		switch {
		case tc.subject == "" && !errors.Is(err, api.ErrUnauthenticated):
			t.Errorf("%q: err = %v, want ErrUnauthenticated", tc.header, err)
		case tc.subject != "" && (err != nil || id.Subject != tc.subject):
			t.Errorf("%q: %+v, %v; want subject %q", tc.header, id, err, tc.subject)
		}
	}
	if _, err := (api.Chain{}).Authenticate(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, api.ErrUnauthenticated) {
		t.Errorf("empty chain: err = %v", err)
	}
}
