package testdb

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/tallyq/tallyq/internal/pgserver"
)

// PrivateServer starts a Postgres server of the test's own, destroyed when
// the test ends (or when the test binary dies). Fault tests crash and restart
// it with its Crash and Restart methods; create databases on it with
// Open(t, OnServer(srv.URL())). fsync is off unless durable is true.
//
// Crash a private server, not the shared one: packages tested in parallel
// use the shared server at the same time.
func PrivateServer(t testing.TB, durable bool) *pgserver.Server {
	t.Helper()
	srv, err := pgserver.Start(context.Background(), t.TempDir(), pgserver.Options{Fsync: durable, Throwaway: true})
	if errors.Is(err, pgserver.ErrNotInstalled) {
		missing(t, err.Error()+"; `make test` installs it when run as root")
	}
	if err != nil {
		t.Fatalf("testdb: start a private Postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Destroy(context.Background()); err != nil {
			t.Errorf("testdb: destroy the private Postgres: %v", err)
		}
	})
	return srv
}

// SharedServer returns the server that scripts/with-servers.sh started (the
// one New and URL use), for tests that must crash or restart that very
// server. Every package tested at the same time loses its connections then,
// so prefer PrivateServer.
func SharedServer(t testing.TB) *pgserver.Server {
	t.Helper()
	ServerURL(t)
	dir := os.Getenv(EnvDir)
	if dir == "" {
		missing(t, EnvDir+" is not set: run `make test` (or scripts/with-servers.sh go test ./...)")
	}
	srv, err := pgserver.Attach(context.Background(), dir, "")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return srv
}
