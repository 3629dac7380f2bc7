package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3 description of every route, served at
// /api/openapi.yaml so clients can generate code and tests can validate
// real traffic against it.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// openAPISpec serves the OpenAPI document. It needs no token: it describes
// the API and holds nothing about any election.
func (s *server) openAPISpec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPIDocument)
}
