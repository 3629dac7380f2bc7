package testdb_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/migrations"
)

func currentDatabase(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var name string
	if err := pool.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatalf("current_database: %v", err)
	}
	return name
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testdb.ServerURL(t))
	if err != nil {
		t.Fatalf("connect to the server: %v", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatalf("look up database %s: %v", name, err)
	}
	return exists
}

func TestDatabasesAreMigratedIsolatedAndDropped(t *testing.T) {
	testdb.ServerURL(t) // skip here, not only in the subtest
	ctx := context.Background()
	var names []string
	t.Run("two databases", func(t *testing.T) {
		a := testdb.Open(t)
		b := testdb.Open(t)
		if a.Name == b.Name {
			t.Fatalf("both databases are named %s", a.Name)
		}
		for _, db := range []*testdb.DB{a, b} {
			if got := currentDatabase(t, db.Pool); got != db.Name {
				t.Errorf("pool of %s is connected to %s", db.Name, got)
			}
			if err := migrations.New(db.Pool).Check(ctx); err != nil {
				t.Errorf("%s is not migrated: %v", db.Name, err)
			}
		}
		if _, err := a.Pool.Exec(ctx, "CREATE TABLE isolation_probe (x int); INSERT INTO isolation_probe VALUES (1)"); err != nil {
			t.Fatalf("write to %s: %v", a.Name, err)
		}
		var inB *string
		if err := b.Pool.QueryRow(ctx, "SELECT to_regclass('isolation_probe')::text").Scan(&inB); err != nil {
			t.Fatalf("look in %s: %v", b.Name, err)
		}
		if inB != nil {
			t.Errorf("a table created in %s is visible in %s", a.Name, b.Name)
		}
		names = []string{a.Name, b.Name}
	})
	if len(names) != 2 {
		t.Fatal("the subtest did not create its databases")
	}
	for _, name := range names {
		if databaseExists(t, name) {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

func TestNewAndURLShareTheTestsDatabase(t *testing.T) {
	pool := testdb.New(t, testdb.WithMaxConns(2))
	if got := pool.Config().MaxConns; got != 2 {
		t.Errorf("MaxConns = %d, want 2", got)
	}
	u, err := url.Parse(testdb.URL(t))
	if err != nil {
		t.Fatalf("parse URL: %v", err)
	}
	name := currentDatabase(t, pool)
	if got := strings.TrimPrefix(u.Path, "/"); got != name {
		t.Errorf("URL names database %s, New's pool is connected to %s", got, name)
	}
	// A second New is another pool to the same database.
	if got := currentDatabase(t, testdb.New(t)); got != name {
		t.Errorf("second New connected to %s, want %s", got, name)
	}
	// Subtests get their own.
	t.Run("subtest", func(t *testing.T) {
		if got := currentDatabase(t, testdb.New(t)); got == name {
			t.Errorf("the subtest shares its parent's database %s", name)
		}
	})
}

func TestPrivateServerKeepsCommittedDataAcrossACrash(t *testing.T) {
	ctx := context.Background()
	srv := testdb.PrivateServer(t, false)
	db := testdb.Open(t, testdb.OnServer(srv.URL()))
	if _, err := db.Pool.Exec(ctx, "CREATE TABLE crash_probe (x int); INSERT INTO crash_probe VALUES (42)"); err != nil {
		t.Fatalf("write: %v", err)
	}
	before := srv.URL()

	if err := srv.Crash(ctx); err != nil {
		t.Fatalf("crash: %v", err)
	}
	if running, err := srv.Running(ctx); err != nil || running {
		t.Fatalf("after Crash: running=%v, err=%v; want a stopped server", running, err)
	}
	if err := db.Pool.Ping(ctx); err == nil {
		t.Fatal("the crashed server still answers")
	}

	if err := srv.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if srv.URL() != before {
		t.Fatalf("restart moved the server from %s to %s", before, srv.URL())
	}
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatalf("reconnect after restart: %v", err)
	}
	defer conn.Close(ctx)
	var x int
	if err := conn.QueryRow(ctx, "SELECT x FROM crash_probe").Scan(&x); err != nil || x != 42 {
		t.Fatalf("after the crash: x=%d, err=%v; want the committed 42", x, err)
	}
}

func TestParallelTestsGetMigratedDatabases(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			if err := migrations.New(testdb.New(t)).Check(context.Background()); err != nil {
				t.Errorf("not migrated: %v", err)
			}
		})
	}
}

func TestSharedServerIsTheOneNewUses(t *testing.T) {
	srv := testdb.SharedServer(t)
	if srv.URL() != testdb.ServerURL(t) {
		t.Errorf("shared server URL %s, want %s", srv.URL(), testdb.ServerURL(t))
	}
	running, err := srv.Running(context.Background())
	if err != nil || !running {
		t.Errorf("Running() = %v, %v; want true", running, err)
	}
}

// BenchmarkOpen measures creating one migrated database from the template.
func BenchmarkOpen(b *testing.B) {
	testdb.Open(b) // builds the template outside the timing
	for b.Loop() {
		testdb.Open(b)
	}
}
