package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/migrations"
)

// Down and Up are inverse, and Check says which command to run whenever the
// schema is not the one the binary knows.
func TestUpDownCheck(t *testing.T) {
	ctx := context.Background()
	m := migrations.New(testdb.New(t))
	if err := m.Check(ctx); err != nil {
		t.Fatalf("a migrated database: %v", err)
	}
	v, err := m.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Tallyq != v.TallyqLatest || v.River != v.RiverLatest || v.Dirty || v.Tallyq < 2 {
		t.Fatalf("version after up: %+v", v)
	}
	if err := m.Down(ctx); err != nil {
		t.Fatal(err)
	}
	err = m.Check(ctx)
	if !errors.Is(err, migrations.ErrNotCurrent) || !strings.Contains(err.Error(), "run `tallyq migrate up`") {
		t.Fatalf("Check on an empty database: %v", err)
	}
	if v, err = m.Version(ctx); err != nil || v.Tallyq != 0 || v.River != 0 {
		t.Fatalf("version after down: %+v, %v", v, err)
	}
	if err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Up(ctx); err != nil {
		t.Fatalf("a second up must change nothing: %v", err)
	}
	if err := m.Check(ctx); err != nil {
		t.Fatalf("after down and up: %v", err)
	}
}
