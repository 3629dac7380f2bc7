// Package migrations applies tallyq's database schema: its own tables, as SQL
// files embedded in the binary and run by golang-migrate, and River's tables,
// run by rivermigrate. serve and worker call Check and refuse to start on a
// database whose schema is missing, behind, dirty or newer than the binary.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// migrationsTable is golang-migrate's bookkeeping table for tallyq's own schema.
const migrationsTable = "tallyq_schema_migrations"

// ErrNotCurrent is returned by Check when the schema does not match the binary.
var ErrNotCurrent = errors.New("database schema is not current")

// Version describes what a database holds next to what this binary knows.
type Version struct {
	// Tallyq is the applied version of tallyq's own schema (0: none).
	Tallyq uint `json:"tallyq"`
	// TallyqLatest is the newest version embedded in this binary.
	TallyqLatest uint `json:"tallyqLatest"`
	// Dirty means a tallyq migration failed halfway and needs repair.
	Dirty bool `json:"dirty"`
	// River is the applied version of River's schema (0: none).
	River int `json:"river"`
	// RiverLatest is the newest River version this binary knows.
	RiverLatest int `json:"riverLatest"`
}

// Migrator applies and inspects the schema of one database.
type Migrator struct {
	pool *pgxpool.Pool
}

// New returns a Migrator for the database behind pool.
func New(pool *pgxpool.Pool) *Migrator { return &Migrator{pool: pool} }

// Up applies River's migrations and then all of tallyq's.
func (m *Migrator) Up(ctx context.Context) error {
	river, err := m.river()
	if err != nil {
		return err
	}
	if _, err := river.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("apply River migrations: %w", err)
	}
	return m.withMigrate(func(mg *migrate.Migrate) error {
		if err := mg.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("apply tallyq migrations: %w", err)
		}
		return nil
	})
}

// Down removes tallyq's tables and then River's: every job and result is lost.
func (m *Migrator) Down(ctx context.Context) error {
	if err := m.withMigrate(func(mg *migrate.Migrate) error {
		if err := mg.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("revert tallyq migrations: %w", err)
		}
		return nil
	}); err != nil {
		return err
	}
	river, err := m.river()
	if err != nil {
		return err
	}
	if _, err := river.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
		return fmt.Errorf("revert River migrations: %w", err)
	}
	return nil
}

// Version reports the applied and known schema versions.
func (m *Migrator) Version(ctx context.Context) (Version, error) {
	var v Version
	latest, err := latestTallyq()
	if err != nil {
		return v, err
	}
	v.TallyqLatest = latest
	river, err := m.river()
	if err != nil {
		return v, err
	}
	all := river.AllVersions()
	v.RiverLatest = all[len(all)-1].Version
	if v.River, err = m.riverApplied(ctx, river); err != nil {
		return v, err
	}
	v.Tallyq, v.Dirty, err = m.tallyqApplied(ctx)
	return v, err
}

// Check returns an error wrapping ErrNotCurrent, saying which command to run,
// unless both schemas are exactly at the versions this binary knows.
func (m *Migrator) Check(ctx context.Context) error {
	v, err := m.Version(ctx)
	if err != nil {
		return err
	}
	switch {
	case v.Dirty:
		return fmt.Errorf("%w: tallyq migration %d failed halfway; repair the database, then run `tallyq migrate up`", ErrNotCurrent, v.Tallyq)
	case v.Tallyq > v.TallyqLatest || v.River > v.RiverLatest:
		return fmt.Errorf("%w: the database (tallyq %d, River %d) is newer than this binary knows (tallyq %d, River %d); run a newer tallyq",
			ErrNotCurrent, v.Tallyq, v.River, v.TallyqLatest, v.RiverLatest)
	case v.Tallyq < v.TallyqLatest || v.River < v.RiverLatest:
		return fmt.Errorf("%w: the database is at tallyq %d, River %d but this binary needs tallyq %d, River %d; run `tallyq migrate up`",
			ErrNotCurrent, v.Tallyq, v.River, v.TallyqLatest, v.RiverLatest)
	}
	return nil
}

func (m *Migrator) river() (*rivermigrate.Migrator[pgx.Tx], error) {
	mg, err := rivermigrate.New(riverpgxv5.New(m.pool), nil)
	if err != nil {
		return nil, fmt.Errorf("load River migrations: %w", err)
	}
	return mg, nil
}

func (m *Migrator) riverApplied(ctx context.Context, river *rivermigrate.Migrator[pgx.Tx]) (int, error) {
	var exists bool
	if err := m.pool.QueryRow(ctx, `SELECT to_regclass('river_migration') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("inspect River schema: %w", err)
	}
	if !exists {
		return 0, nil
	}
	existing, err := river.ExistingVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("read River schema version: %w", err)
	}
	if len(existing) == 0 {
		return 0, nil
	}
	return existing[len(existing)-1].Version, nil
}

func (m *Migrator) tallyqApplied(ctx context.Context) (uint, bool, error) {
	var exists bool
	if err := m.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, migrationsTable).Scan(&exists); err != nil {
		return 0, false, fmt.Errorf("inspect tallyq schema: %w", err)
	}
	if !exists {
		return 0, false, nil
	}
	var (
		version int64
		dirty   bool
	)
	err := m.pool.QueryRow(ctx, `SELECT version, dirty FROM `+migrationsTable+` LIMIT 1`).Scan(&version, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read tallyq schema version: %w", err)
	}
	if version < 0 {
		return 0, dirty, nil
	}
	return uint(version), dirty, nil
}

func (m *Migrator) withMigrate(fn func(*migrate.Migrate) error) error {
	src, err := iofs.New(sqlFiles, "sql")
	if err != nil {
		return fmt.Errorf("open embedded migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(m.pool)
	defer db.Close()
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{MigrationsTable: migrationsTable})
	if err != nil {
		return fmt.Errorf("open migration driver: %w", err)
	}
	mg, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		_ = drv.Close()
		return fmt.Errorf("prepare migrations: %w", err)
	}
	// Close returns the driver's connection to the pool; without it the
	// pool could never close.
	defer mg.Close() //nolint:errcheck // nothing to do about a failed close
	return fn(mg)
}

// latestTallyq returns the highest version among the embedded files.
func latestTallyq() (uint, error) {
	entries, err := fs.ReadDir(sqlFiles, "sql")
	if err != nil {
		return 0, fmt.Errorf("list embedded migrations: %w", err)
	}
	var versions []uint
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(prefix, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("embedded migration %q has no numeric version: %w", e.Name(), err)
		}
		versions = append(versions, uint(n))
	}
	if len(versions) == 0 {
		return 0, errors.New("no embedded migrations")
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	return versions[len(versions)-1], nil
}
