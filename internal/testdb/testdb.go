// Package testdb gives each test its own freshly migrated Postgres database
// on the server that scripts/with-servers.sh (run by `make test`) started.
//
// Every database is a copy of a template database that holds the current
// migrations (tallyq's and River's). The template is built once per server
// and migration set: the first test binary to need it builds it under a
// Postgres advisory lock, so packages tested in parallel do not collide, and
// later binaries reuse it. Copying it takes milliseconds, so tests need not
// share databases or clean up tables.
//
// Without TALLYQ_TEST_DATABASE_URL a test is skipped, or fails when CI=true.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/pgserver"
	"github.com/tallyq/tallyq/migrations"
)

// EnvURL names the variable holding the test server's URL.
const EnvURL = "TALLYQ_TEST_DATABASE_URL"

// EnvDir names the variable holding the test server's scripts/postgres.sh directory.
const EnvDir = "TALLYQ_TEST_PG_DIR"

// adminTimeout bounds each administrative statement (create, drop, migrate).
const adminTimeout = 2 * time.Minute

// DB is one test database.
type DB struct {
	// Name is the database's name on its server.
	Name string
	// URL connects to it with the server's superuser; give it to subprocesses.
	URL string
	// Pool is a pool to it, closed when the test ends.
	Pool *pgxpool.Pool
}

// Option configures New and Open.
type Option func(*options)

type options struct {
	maxConns  int32
	serverURL string
}

// WithMaxConns sets the pool's maximum number of connections (pgx's default
// is the larger of 4 and the number of CPUs).
func WithMaxConns(n int32) Option {
	return func(o *options) { o.maxConns = n }
}

// OnServer creates the database on the server at url (any database of it)
// instead of the one in TALLYQ_TEST_DATABASE_URL, e.g. on a PrivateServer.
// It applies to Open only.
func OnServer(url string) Option {
	return func(o *options) { o.serverURL = url }
}

// perTest maps a test to its database, so that New and URL called in one
// test refer to the same one. Entries leave with their test.
var perTest sync.Map // testing.TB → *DB (without Pool)

// New returns a new pool to the test's own database, creating the database
// on the first call of New or URL in the test. Subtests have their own.
// The pool is closed and the database dropped when the test ends.
func New(t testing.TB, opts ...Option) *pgxpool.Pool {
	t.Helper()
	db := forTest(t)
	return connect(t, db.URL, collect(opts))
}

// URL returns the URL of the test's own database (the one New connects to),
// creating the database on the first call of New or URL in the test.
func URL(t testing.TB) string {
	t.Helper()
	return forTest(t).URL
}

// Open creates another fresh migrated database, apart from the test's own,
// with a pool to it; both go when the test ends.
func Open(t testing.TB, opts ...Option) *DB {
	t.Helper()
	o := collect(opts)
	db := create(t, o.serverURL)
	db.Pool = connect(t, db.URL, o)
	return db
}

func collect(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func forTest(t testing.TB) *DB {
	t.Helper()
	if db, ok := perTest.Load(t); ok {
		return db.(*DB)
	}
	db := create(t, "")
	perTest.Store(t, db)
	t.Cleanup(func() { perTest.Delete(t) })
	return db
}

// ServerURL returns TALLYQ_TEST_DATABASE_URL, or ends the test: skipped
// normally, failed when CI=true (CI must run every test).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		missing(t, EnvURL+" is not set: run `make test` (or scripts/with-servers.sh go test ./...), which starts a throwaway Postgres")
	}
	return u
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// create makes a database from the template of the server at serverURL
// ("" means TALLYQ_TEST_DATABASE_URL) and drops it when the test ends.
func create(t testing.TB, serverURL string) *DB {
	t.Helper()
	if serverURL == "" {
		serverURL = ServerURL(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	template, err := templateFor(ctx, serverURL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	name := databaseName(t)
	if err := adminExec(ctx, serverURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		t.Fatalf("testdb: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		// FORCE ends connections the test left, such as killed subprocesses'.
		if err := adminExec(ctx, serverURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(serverURL, name)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return &DB{Name: name, URL: u}
}

func connect(t testing.TB, dbURL string, o options) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("testdb: parse database URL: %v", err)
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// databaseName is readable in the server's logs and unique across runs.
func databaseName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	base := b.String()
	if len(base) > 40 {
		base = base[:40]
	}
	return "t_" + base + "_" + rand.Text()[:10]
}

// withDatabase returns serverURL with its database replaced by name.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL (got %q)", EnvURL, redact(serverURL))
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// redact hides a URL's password in error texts.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// adminExec runs one statement on its own connection to the server's database.
// A connection per statement survives a server that a test crashed and
// restarted, where a pooled one would not.
func adminExec(ctx context.Context, serverURL, sql string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(serverURL), err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// templates caches, per server URL, the template database this binary uses.
var templates sync.Map // string → *template

type template struct {
	once sync.Once
	name string
	err  error
}

func templateFor(ctx context.Context, serverURL string) (string, error) {
	v, _ := templates.LoadOrStore(serverURL, &template{})
	tp := v.(*template)
	tp.once.Do(func() { tp.name, tp.err = buildTemplate(ctx, serverURL) })
	return tp.name, tp.err
}

// templateLockKey is the advisory lock that serialises building templates
// ("tallyq" in ASCII).
const templateLockKey int64 = 0x74616c6c7971

// buildTemplate returns the name of the template holding the current
// migrations, building it unless another binary did.
func buildTemplate(ctx context.Context, serverURL string) (string, error) {
	fp, err := migrationsFingerprint()
	if err != nil {
		return "", err
	}
	name := "tallyq_template_" + fp
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("connect to the test server %s: %w", redact(serverURL), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("lock the template: %w", err)
	}
	// Closing the connection also releases the lock.
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look for template %s: %w", name, err)
	}
	if exists {
		return name, nil
	}
	// Build under another name and rename when complete, so that a template
	// by the final name is never half migrated.
	building := name + "_build"
	for _, sql := range []string{
		"DROP DATABASE IF EXISTS " + pgx.Identifier{building}.Sanitize() + " WITH (FORCE)",
		"CREATE DATABASE " + pgx.Identifier{building}.Sanitize(),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("build template %s: %w", name, err)
		}
	}
	if err := migrate(ctx, serverURL, building); err != nil {
		return "", fmt.Errorf("build template %s: %w", name, err)
	}
	for _, sql := range []string{
		"ALTER DATABASE " + pgx.Identifier{building}.Sanitize() + " RENAME TO " + pgx.Identifier{name}.Sanitize(),
		// Nobody may connect: a connection would make CREATE DATABASE ... TEMPLATE fail.
		"ALTER DATABASE " + pgx.Identifier{name}.Sanitize() + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("build template %s: %w", name, err)
		}
	}
	return name, nil
}

func migrate(ctx context.Context, serverURL, dbName string) error {
	u, err := withDatabase(serverURL, dbName)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	if err := migrations.New(pool).Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// migrationsFingerprint hashes the module's SQL migration files and the
// River version, so that a changed migration gets a new template.
func migrationsFingerprint() (string, error) {
	root, err := pgserver.ModuleRoot()
	if err != nil {
		return "", err
	}
	files, err := filepath.Glob(filepath.Join(root, "migrations", "sql", "*.sql"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no migration files in %s (err: %v)", filepath.Join(root, "migrations", "sql"), err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read migration: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), len(data))
		h.Write(data)
	}
	h.Write([]byte(riverVersion()))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// riverVersion is the River module's version, whose migrations the template holds.
func riverVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/riverqueue/river" {
			return dep.Version
		}
	}
	return ""
}
