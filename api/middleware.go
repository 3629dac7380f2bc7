package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// logRequests is middleware that logs one line per request: method, route
// pattern, status, duration and bytes written. It never logs headers (the
// Authorization header holds a secret) nor bodies.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK // the handler wrote nothing
		}
		level := slog.LevelInfo
		if status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		pattern := ""
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			pattern = rctx.RoutePattern()
		}
		elapsed := time.Since(start)
		if s.observeRequest != nil {
			s.observeRequest(r.Method, pattern, status, elapsed)
		}
		s.logger.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method),
			slog.String("route", pattern),
			slog.Int("status", status),
			slog.Duration("duration", elapsed),
			slog.Int("bytes", ww.BytesWritten()),
		)
	})
}

// recoverPanics is middleware that turns a panicking handler into a JSON 500
// that reveals nothing of the panic; the panic and its stack go to the log.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared, never wrapped
				panic(v) // net/http's way to abort a response; it must reach the server
			}
			s.logger.ErrorContext(r.Context(), "handler panicked",
				"method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if ww, ok := w.(middleware.WrapResponseWriter); ok && ww.Status() != 0 {
				return // the response has begun; nothing sensible can be added
			}
			writeError(w, r, s.logger, &Error{Status: http.StatusInternalServerError,
				Code: CodeInternal, Message: "internal error; the server log has the details"})
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody is middleware that caps the request body at limit bytes: a
// declared Content-Length over it is refused at once with 413, and reading
// past it fails with *http.MaxBytesError, which handlers report as 413.
// Routes set their own limit, so upload routes can take large streams
// while small JSON routes stay small.
func (s *server) limitBody(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				writeError(w, r, s.logger, &http.MaxBytesError{Limit: limit})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}

// notFound answers requests for routes that do not exist.
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, s.logger, errorf(http.StatusNotFound, CodeNotFound,
		"no route %s %s", r.Method, r.URL.Path))
}

// methodNotAllowed answers requests whose path exists with other methods,
// naming those methods in the Allow header as RFC 9110 asks. chi sends a
// method it has no tree for (PROPFIND) here for any path: one that no route
// has is not found.
func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	allowed := s.allowedMethods(r.URL.Path)
	if len(allowed) == 0 {
		s.notFound(w, r)
		return
	}
	for _, m := range allowed {
		w.Header().Add("Allow", m)
	}
	writeError(w, r, s.logger, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
		"method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
}

// headAsGet answers HEAD wherever GET is, as HTTP asks (monitors probe
// with it); no route is registered for HEAD. chi's middleware.GetHead asks
// the router first, and chi matches every method on the path of a mounted
// sub-router itself (/api/jobs), so HEAD there was refused.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); r.Method == http.MethodHead && rctx != nil {
			rctx.RouteMethod = http.MethodGet
		}
		next.ServeHTTP(w, r)
	})
}

// routeEntry is one registered route.
type routeEntry struct {
	method   string
	segments []string // the pattern's path segments: literal, {param} or *
}

// walkRoutes lists every route of mux with chi.Walk, which (unlike chi's
// Match) sees through mounted sub-routers.
func walkRoutes(mux *chi.Mux) ([]routeEntry, error) {
	var out []routeEntry
	err := chi.Walk(mux, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, routeEntry{method: method, segments: pathSegments(pattern)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("api: list the routes: %w", err)
	}
	return out, nil
}

// pathSegments splits a path or pattern; a trailing slash does not count,
// as a sub-router's index route ("/api/jobs/") also answers its mount path.
func pathSegments(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// matches reports whether the route's pattern matches path's segments.
func (e routeEntry) matches(path []string) bool {
	for i, seg := range e.segments {
		switch {
		case seg == "*":
			return true
		case i >= len(path):
			return false
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			if path[i] == "" {
				return false
			}
		case seg != path[i]:
			return false
		}
	}
	return len(path) == len(e.segments)
}

// allowedMethods lists the methods that have a route for path, in a fixed
// order; HEAD goes with GET (see headAsGet).
func (s *server) allowedMethods(path string) []string {
	segs := pathSegments(path)
	has := map[string]bool{}
	for _, e := range s.routeTable {
		if e.matches(segs) {
			has[e.method] = true
		}
	}
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if has[m] {
			allowed = append(allowed, m)
			if m == http.MethodGet {
				allowed = append(allowed, http.MethodHead)
			}
		}
	}
	return allowed
}
