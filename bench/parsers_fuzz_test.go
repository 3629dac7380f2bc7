package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzReadResults reads arbitrary --json files as `tallyq bench report`
// does and writes the report of what it accepts: reading refuses with an
// error naming the file, or gives results that write a report (never a
// panic, whatever scenarios are missing or zero) and encode back to JSON
// that reads to the same results.
func FuzzReadResults(f *testing.F) {
	if data, err := os.ReadFile("results.json"); err == nil {
		f.Add(data)
		f.Add(bytes.Replace(data, []byte(`"api"`), []byte(`"apy"`), 1))
	}
	for _, s := range []string{`{}`, `null`, `{"queue":{}}`, `{"tally":{"verified":{}}}`, `{"memory":{"minMiB":1}}`, `{"scale":{"speedup":0}}`,
		`{"pipeline":{"config":{}}}`, `{"api":{"separate":{"requests":1}}}`, `{"create":{}}`, `{"queue-rabbitmq":{}}`, `[`, `{"queue":1}`} {
		f.Add([]byte(s))
	}
	machine := Machine{CPU: "fuzz", Cores: 2, Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Commit: "abc", Command: "`make bench`"}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "results.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadResults(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("ReadResults: %v does not name the file", err)
			}
			return
		}
		var report bytes.Buffer
		if err := WriteReport(&report, r, machine, "notes"); err != nil || !strings.HasPrefix(report.String(), "# Benchmarks\n") {
			t.Fatalf("WriteReport: %v\n%s", err, report.String())
		}
		out, err := json.Marshal(r)
		if err != nil {
			return // a float JSON cannot write (only reachable through huge exponents)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := ReadResults(path)
		if err != nil {
			t.Fatalf("the results' own JSON does not read back: %v\n%s", err, out)
		}
		if out2, _ := json.Marshal(again); !bytes.Equal(out, out2) {
			t.Fatalf("the results read back otherwise:\n%s\n%s", out, out2)
		}
	})
}
