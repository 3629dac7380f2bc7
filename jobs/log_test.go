package jobs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the engine's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// At debug level each chunk leaves one JSON line saying which chunk it was,
// its outcome, how long it took and the live heap before and after, so an
// operator can find the chunk that blew a worker's memory.
func TestChunkDebugLine(t *testing.T) {
	var logs lockedBuffer
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarnessWith(t, cfg)
	h.start(2)
	const chunks = 6
	job := h.create(chunks)
	if st := h.waitTerminal(job.JobID, time.Minute); st.Status != StatusCompleted {
		t.Fatalf("job ended %+v", st)
	}
	// The line is written once the chunk's commit has returned, which can
	// be after the job's status reads COMPLETED.
	var seen map[float64]bool
	h.waitFor(time.Minute, "a debug line per chunk", func() bool {
		seen = chunkLines(t, logs.lines(), job.JobID.String())
		return len(seen) == chunks
	})
}

// chunkLines checks the job's per-chunk debug lines and returns the chunk
// numbers they name.
func chunkLines(t *testing.T, lines [][]byte, jobID string) map[float64]bool {
	t.Helper()
	seen := map[float64]bool{}
	for _, raw := range lines {
		var line map[string]any
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Fatalf("log line is not JSON: %s", raw)
		}
		if line["msg"] != "chunk" || line["job_id"] != jobID {
			continue
		}
		for _, key := range []string{"duration_ms", "heap_before", "heap_after", "attempt"} {
			if _, ok := line[key].(float64); !ok {
				t.Fatalf("chunk line without numeric %s: %s", key, raw)
			}
		}
		if line["outcome"] != "done" {
			t.Fatalf("chunk line with outcome %v, want done: %s", line["outcome"], raw)
		}
		if hb, _ := line["heap_before"].(float64); hb <= 0 {
			t.Fatalf("heap_before %v, want the live heap in bytes: %s", line["heap_before"], raw)
		}
		if seen[line["chunk"].(float64)] {
			t.Fatalf("two debug lines for chunk %v", line["chunk"])
		}
		seen[line["chunk"].(float64)] = true
	}
	return seen
}
