package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// decodeOptionalJSON decodes the request body into dst, which must be a
// pointer to a struct. An empty body leaves dst as it is. A body must be
// sent as application/json (else 415), be one JSON value (else 400), name
// only fields dst has (else 400) and fit the route's limit (else 413).
func decodeOptionalJSON(r *http.Request, dst any) error {
	body := bufio.NewReader(r.Body)
	if _, err := body.Peek(1); errors.Is(err, io.EOF) {
		return nil
	} else if err != nil {
		return bodyReadError(err)
	}
	if err := requireJSONContentType(r); err != nil {
		return err
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	// A second value, or garbage after the first, is a malformed request.
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if isTooLarge(err) {
			return err
		}
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "the body must hold a single JSON object, but more data follows it")
	}
	return nil
}

// requireJSONContentType returns a 415 *Error unless the request declares
// an application/json body.
func requireJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"the body must be sent with Content-Type: application/json (got %q)", ct)
	}
	return nil
}

// jsonError turns a decoding error into the *Error the client sees.
func jsonError(err error) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case isTooLarge(err):
		return err
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "the body holds no JSON value; send a JSON object or no body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errorf(http.StatusBadRequest, CodeInvalidJSON, "the body must be a JSON object, not a JSON %s", typeErr.Value)
		}
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "field %q must be a JSON %s, not %s", typeErr.Field, jsonTypeName(typeErr.Type), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields.
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return bodyReadError(err)
}

// jsonTypeName names a Go type as a client knows it: api.Role is a string.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	if t.PkgPath() != "" {
		return t.Kind().String()
	}
	return t.String()
}

// bodyReadError reports a failure to read the body: its size limit (413) or
// a broken request (400).
func bodyReadError(err error) error {
	if isTooLarge(err) {
		return err
	}
	return errorf(http.StatusBadRequest, CodeBadRequest, "could not read the request body: %v", err)
}

// isTooLarge reports whether err is a body over the route's limit, which
// toAPIError reports as 413.
func isTooLarge(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge)
}

// pathUUID parses the route parameter name as a UUID.
func pathUUID(r *http.Request, name string) (uuid.UUID, error) {
	raw := chi.URLParam(r, name)
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return uuid.Nil, errorf(http.StatusBadRequest, CodeInvalidID,
			"%s %q is not a UUID (expected the form 123e4567-e89b-12d3-a456-426614174000)", name, raw)
	}
	return id, nil
}

// queryParams is a request's query string, checked by newQueryParams.
type queryParams struct {
	values map[string][]string
}

// newQueryParams reads a request's query string, refusing parameters the
// route does not know (a misspelt filter would otherwise silently match
// everything) and repeated ones.
func newQueryParams(r *http.Request, known ...string) (queryParams, error) {
	values, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return queryParams{}, err
	}
	for name, vs := range values {
		if !slices.Contains(known, name) {
			return queryParams{}, errorf(http.StatusBadRequest, CodeInvalidQuery,
				"unknown query parameter %q; this route accepts %s", name, strings.Join(known, ", "))
		}
		if len(vs) > 1 {
			return queryParams{}, errorf(http.StatusBadRequest, CodeInvalidQuery,
				"query parameter %q is given %d times; give it once", name, len(vs))
		}
	}
	return queryParams{values: values}, nil
}

func parseQuery(raw string) (map[string][]string, error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, CodeInvalidQuery, "malformed query string: %v", err)
	}
	return values, nil
}

// string returns the parameter's value, "" when absent.
func (q queryParams) string(name string) string {
	if vs := q.values[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// positiveInt64 returns the parameter as an integer ≥ 1, or nil when absent.
func (q queryParams) positiveInt64(name string) (*int64, error) {
	raw := q.string(name)
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		return nil, errorf(http.StatusBadRequest, CodeInvalidQuery,
			"query parameter %q must be a positive integer, not %q", name, raw)
	}
	return &n, nil
}

// intInRange returns the parameter as an integer in [lo, hi], or 0 when absent.
func (q queryParams) intInRange(name string, lo, hi int) (int, error) {
	raw := q.string(name)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, errorf(http.StatusBadRequest, CodeInvalidQuery,
			"query parameter %q must be an integer from %d to %d, not %q", name, lo, hi, raw)
	}
	return n, nil
}
