package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// riverUIPrefix is where River UI is mounted; its handler must be built
// with this prefix.
const riverUIPrefix = "/riverui"

// mountRiverUI serves h, River UI, at /riverui/ to administrators
// authenticated by auth; others get the API's JSON 401 or 403.
func (s *server) mountRiverUI(r chi.Router, auth Authenticator, h http.Handler) {
	guarded := s.authenticate(auth)(s.requireRole(RoleAdmin)(h))
	r.Handle(riverUIPrefix, guarded)
	r.Handle(riverUIPrefix+"/*", guarded)
}

// checkSameOrigin is River UI's forgery check for requests authenticated
// by the session cookie. River UI's own page cannot send the CSRF header,
// so instead the browser's Sec-Fetch-Site or Origin header must show that
// the request comes from this origin (net/http's CrossOriginProtection);
// the cookie's SameSite=Strict already keeps other sites' requests from
// carrying it.
func checkSameOrigin(r *http.Request, _ session) error {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		return errorf(http.StatusForbidden, CodeCSRFFailed, "a cross-origin request cannot change River UI's state: %v", err)
	}
	return nil
}
