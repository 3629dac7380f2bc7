package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tallyq/tallyq/internal/testdb"
)

// TestMain removes the tallyq binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if dir, ok := builtDir.Load().(string); ok {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// builtDir is the directory of the binary built by buildTallyq.
var builtDir atomic.Value

// builtTallyq builds cmd/tallyq once per test binary.
var builtTallyq = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tallyq-bench-test-")
	if err != nil {
		return "", err
	}
	builtDir.Store(dir)
	bin := filepath.Join(dir, "tallyq")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tallyq/tallyq/cmd/tallyq")
	cmd.Stderr = os.Stderr
	return bin, cmd.Run()
})

// buildTallyq returns cmd/tallyq built (once) for the scenarios' worker and
// server processes.
func buildTallyq(t *testing.T) string {
	t.Helper()
	bin, err := builtTallyq()
	if err != nil {
		t.Fatalf("build tallyq: %v", err)
	}
	return bin
}

// testProcesses starts the built tallyq on the test's database.
func testProcesses(t *testing.T) Processes {
	return Processes{Tallyq: buildTallyq(t), DatabaseURL: testdb.URL(t), Output: os.Stderr}
}

// TestMemoryScenarioTiny runs the memory scenario at tiny sizes, with real
// worker processes, so that it keeps working; it asserts no memory figure.
func TestMemoryScenarioTiny(t *testing.T) {
	pool := testdb.New(t, testdb.WithMaxConns(10))
	cfg := MemoryConfig{Pool: tinyPool(t), Sizes: []int{20, 30}, ChunkSizes: []int{3, 50},
		Processes: testProcesses(t), Concurrency: 2, MemoryBudget: "256MiB", GCPercent: 50}
	res, err := RunMemory(context.Background(), pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 4 {
		t.Fatalf("%d runs, want 4: %+v", len(res.Runs), res.Runs)
	}
	for i, r := range res.Runs {
		if r.Ballots != cfg.Sizes[i/2] || r.ChunkSize != cfg.ChunkSizes[i%2] || r.VmHWMMiB <= 0 || r.TallySeconds <= 0 {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	if res.MinMiB <= 0 || res.Ratio < 1 {
		t.Fatalf("summary: min %.1f MiB, max %.1f MiB, ratio %.2f", res.MinMiB, res.MaxMiB, res.Ratio)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), cfg.DatabaseURL) {
		t.Fatal("the result's JSON holds the database URL, password and all")
	}
	t.Logf("%+v", res.Runs)
}
