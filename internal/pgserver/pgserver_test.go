package pgserver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/internal/pgserver"
)

// start starts a server in dir; without PostgreSQL the test is skipped, or
// fails when CI=true.
func start(t *testing.T, dir string) *pgserver.Server {
	t.Helper()
	srv, err := pgserver.Start(context.Background(), dir, pgserver.Options{Throwaway: true})
	if errors.Is(err, pgserver.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return srv
}

func query(t *testing.T, url, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var out string
	if err := conn.QueryRow(ctx, sql).Scan(&out); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func TestStartReusesAStoppedServersDataAndURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := start(t, dir)
	t.Cleanup(func() {
		if err := srv.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	if got := query(t, srv.URL(), "SELECT current_database() || ' ' || current_setting('max_connections')"); got != "tallyq 400" {
		t.Errorf("database and max_connections = %q, want \"tallyq 400\"", got)
	}
	conn, err := pgx.Connect(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	if err := srv.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if running, err := srv.Running(ctx); err != nil || running {
		t.Fatalf("after Stop: running=%v, err=%v", running, err)
	}
	again := start(t, dir)
	if again.URL() != srv.URL() {
		t.Errorf("second start gave %s, want the first URL %s", again.URL(), srv.URL())
	}
	if got := query(t, again.URL(), "SELECT v FROM kept"); got != "still here" {
		t.Errorf("kept row = %q", got)
	}
}

func TestDestroyRemovesTheServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := start(t, dir)
	if err := srv.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if _, err := pgx.Connect(ctx, srv.URL()); err == nil {
		t.Error("the destroyed server still accepts connections")
	}
	if _, err := pgserver.Attach(ctx, dir, ""); err == nil {
		t.Error("Attach found a server in the destroyed dir")
	}
}

func TestMissingPostgresIsErrNotInstalled(t *testing.T) {
	script := filepath.Join(t.TempDir(), "postgres.sh")
	// The real script's status when it finds no initdb.
	if err := os.WriteFile(script, []byte("exit 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := pgserver.Start(context.Background(), t.TempDir(), pgserver.Options{Script: script})
	if !errors.Is(err, pgserver.ErrNotInstalled) {
		t.Errorf("err = %v, want ErrNotInstalled", err)
	}
}
