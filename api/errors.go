package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tallyq/tallyq/internal/archive"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
)

// Error codes of the JSON error body. Clients branch on these, not on messages.
const (
	CodeBadRequest           = "bad_request"
	CodeInvalidJSON          = "invalid_json"
	CodeInvalidID            = "invalid_id"
	CodeInvalidQuery         = "invalid_query"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeJobNotFound          = "job_not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeInternal             = "internal"
	CodeNotReady             = "not_ready"
	CodeNoSecretKey          = "no_secret_key"
)

// Error is an API error: the HTTP status and the body
// {"success":false,"error":{"code":…,"message":…}} it is written as.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Error returns the message, so an *Error reads well in logs.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorf returns an *Error with a formatted message.
func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Success bool        `json:"success"`
	Error   ErrorDetail `json:"error"`
}

// ErrorDetail is the "error" member of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// toAPIError maps err to the response a client sees. Engine errors keep
// their message (it says what is wrong with the request); anything else is
// an internal error whose details stay in the server log.
func toAPIError(err error) *Error {
	var apiErr *Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			"request body is larger than this route's limit of %d bytes", tooLarge.Limit)
	case errors.Is(err, jobs.ErrJobNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeJobNotFound, Message: err.Error()}
	case errors.Is(err, jobs.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, election.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, election.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, election.ErrNoSecretKey):
		return &Error{Status: http.StatusConflict, Code: CodeNoSecretKey, Message: err.Error()}
	case errors.Is(err, election.ErrInvalid), errors.Is(err, archive.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: err.Error()}
	case errors.Is(err, jobs.ErrInvalid), errors.Is(err, jobs.ErrUnknownOperation):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: err.Error()}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
		Message: "internal error; the server log has the details"}
}

// writeError writes err as a JSON error response, logging what the client
// does not see when the error is the server's fault.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	apiErr := toAPIError(err)
	if apiErr.Status >= http.StatusInternalServerError && !errors.Is(err, context.Canceled) {
		logger.ErrorContext(r.Context(), "request failed",
			"method", r.Method, "path", r.URL.Path, "error", err)
	}
	if apiErr.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tallyq"`)
	}
	writeJSON(w, apiErr.Status, ErrorBody{Error: ErrorDetail{Code: apiErr.Code, Message: apiErr.Message}})
}

// writeJSON writes v as the JSON response body with the given status.
// HTML is not escaped: the body is served as application/json with
// nosniff, and messages quote values such as `Bearer <token>` verbatim.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a programming error (an unmarshalable type) gets here.
		status = http.StatusInternalServerError
		body.Reset()
		body.WriteString(`{"success":false,"error":{"code":"internal","message":"could not encode the response"}}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}
