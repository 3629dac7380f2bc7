package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// loadSpec reads and validates the OpenAPI document the server embeds.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	data, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// specValidator checks HTTP exchanges against the OpenAPI document and
// counts the statuses each operation answered.
type specValidator struct {
	doc    *openapi3.T
	router routers.Router

	mu       sync.Mutex
	statuses map[string]map[int]bool // by operation ("GET /api/jobs")
}

func newSpecValidator(t *testing.T, doc *openapi3.T) *specValidator {
	t.Helper()
	registerOpaqueBodies()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specValidator{doc: doc, router: router, statuses: map[string]map[int]bool{}}
}

var registerOnce sync.Once

// registerOpaqueBodies tells kin-openapi how to read the bodies that are
// not JSON: text as a string, archives and streams as bytes (a string).
// Its registry is global, so this happens once per test binary.
func registerOpaqueBodies() {
	registerOnce.Do(func() {
		for _, ct := range []string{"text/html", "text/css", "text/javascript", "text/event-stream", "application/yaml"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		}
		for _, ct := range []string{"application/gzip", "application/x-gzip", "application/zip", "application/x-ndjson", "application/ndjson", "application/jsonl"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
	})
}

// client returns an HTTP client whose exchanges v checks, reporting
// mismatches to t.
func (v *specValidator) client(t *testing.T) *http.Client {
	return &http.Client{Transport: &checkedTransport{v: v, t: t, next: http.DefaultTransport}}
}

// checkedTransport is an http.RoundTripper that checks every request it
// sends and every response it receives against v's document.
type checkedTransport struct {
	v    *specValidator
	t    *testing.T
	next http.RoundTripper
}

// options are the validation options: formats checked (uuid included),
// undocumented statuses refused, and security checked for the presence
// of the credential each scheme names (the server checks its value).
func (v *specValidator) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    credentialPresent,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.EnableFormatValidation(),
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
		},
	}
}

// credentialPresent passes a security scheme when the request carries its
// credential: a bearer Authorization header or the session cookie.
func credentialPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, scheme := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case scheme.Type == "http" && scheme.Scheme == "bearer":
		if s, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(s, "Bearer") && tok != "" {
			return nil
		}
		return errors.New("no bearer token")
	case scheme.Type == "apiKey" && scheme.In == "cookie":
		if _, err := r.Cookie(scheme.Name); err == nil {
			return nil
		}
		return fmt.Errorf("no cookie %s", scheme.Name)
	}
	return fmt.Errorf("security scheme %s %s is not known to the test", scheme.Type, scheme.Scheme)
}

// RoundTrip implements http.RoundTripper. A request the document refuses
// must be answered with an error status; every response must be one the
// document lists for the operation, with a body its schema accepts.
// Responses of paths the document does not have must be the JSON error.
func (c *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t, v := c.t, c.v
	reqBody, err := readAll(req.Body)
	if err != nil {
		return nil, err
	}
	send := req.Clone(req.Context())
	setBody(send, reqBody)

	check := req.Clone(req.Context())
	setBody(check, reqBody)
	route, params, routeErr := v.router.FindRoute(check)
	var input *openapi3filter.RequestValidationInput
	var requestErr error
	if routeErr == nil {
		input = &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: v.options()}
		requestErr = openapi3filter.ValidateRequest(req.Context(), input)
	}

	resp, err := c.next.RoundTrip(send)
	if err != nil {
		return nil, err
	}
	respBody, err := readAll(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	what := req.Method + " " + req.URL.RequestURI()

	if routeErr != nil {
		if req.Method != http.MethodHead {
			v.checkErrorBody(t, what, resp, respBody)
		}
		return resp, nil
	}
	op := req.Method + " " + route.Path
	v.mu.Lock()
	if v.statuses[op] == nil {
		v.statuses[op] = map[int]bool{}
	}
	v.statuses[op][resp.StatusCode] = true
	v.mu.Unlock()

	if requestErr != nil && resp.StatusCode < 400 {
		t.Errorf("%s: the document refuses the request but the server answered %d: %s", what, resp.StatusCode, brief(requestErr))
	}
	err = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                v.options(),
	})
	if err != nil {
		t.Errorf("%s: response %d does not match the document: %s\nbody: %.1000s", what, resp.StatusCode, brief(err), respBody)
	}
	return resp, nil
}

// checkErrorBody checks a response of a path the document does not have:
// 404 or 405 with the JSON error body.
func (v *specValidator) checkErrorBody(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("%s: the document has no such operation, but the server answered %d", what, resp.StatusCode)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var value any
	if mt != "application/json" || json.Unmarshal(body, &value) != nil {
		t.Errorf("%s: %d is not a JSON body: %q %.200s", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		return
	}
	schema := v.doc.Components.Schemas["Error"].Value
	if err := schema.VisitJSON(value); err != nil {
		t.Errorf("%s: %d body is not the Error schema: %v", what, resp.StatusCode, err)
	}
}

// checkCoverage asserts that every operation of the document answered at
// least one success and, when it documents an error a client can cause
// (anything but 500), at least one such error.
func (v *specValidator) checkCoverage(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	var missing []string
	for path, item := range v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			seen := v.statuses[name]
			var success, failure bool
			for status := range seen {
				success = success || status < 400
				failure = failure || status >= 400
			}
			if !success {
				missing = append(missing, name+": no success status")
			}
			if !failure && documentsClientError(op) {
				missing = append(missing, name+": no error status")
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("not exercised: %s", m)
	}
}

// documentsClientError reports whether op lists an error status other
// than 500.
func documentsClientError(op *openapi3.Operation) bool {
	for code := range op.Responses.Map() {
		if code >= "400" && code != "500" {
			return true
		}
	}
	return false
}

// brief is the first line of a validation error: kin-openapi follows it
// with the whole schema and value.
func brief(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func readAll(body io.ReadCloser) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	defer body.Close()
	return io.ReadAll(body)
}

// setBody gives r a fresh reader of body.
func setBody(r *http.Request, body []byte) {
	if body == nil {
		r.Body = http.NoBody
		r.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// statusEvents reads an event stream of GET /api/jobs/{jobId}/events and
// checks each event's data against the JobStatus schema.
func (v *specValidator) statusEvents(t *testing.T, stream []byte) []jobProgress {
	t.Helper()
	schema := v.doc.Components.Schemas["JobStatus"].Value
	var events []jobProgress
	for _, block := range strings.Split(strings.TrimSpace(string(stream)), "\n\n") {
		if strings.HasPrefix(block, ":") {
			continue // a heartbeat
		}
		data, ok := strings.CutPrefix(block, "event: status\ndata: ")
		if !ok || strings.Contains(data, "\n") {
			t.Errorf("event %q is not one status event", block)
			continue
		}
		var value any
		var p jobProgress
		if err := json.Unmarshal([]byte(data), &value); err != nil {
			t.Errorf("event data %s: %v", data, err)
			continue
		}
		if err := schema.VisitJSON(value, v.options().SchemaValidationOptions...); err != nil {
			t.Errorf("event data %s is not a JobStatus: %s", data, brief(err))
		}
		_ = json.Unmarshal([]byte(data), &p)
		events = append(events, p)
	}
	return events
}
