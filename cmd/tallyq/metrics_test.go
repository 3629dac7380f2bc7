package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/internal/testdb"
)

// getText fetches url and returns its status and body.
func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// wantLines fails the test for every line of want missing from text.
func wantLines(t *testing.T, what, text string, want ...string) {
	t.Helper()
	lines := strings.Split(text, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || l == w
		}
		if !found {
			t.Errorf("%s has no line %q", what, w)
		}
	}
}

func TestWorkerServesMetrics(t *testing.T) {
	p := startProcess(t, map[string]string{
		"TALLYQ_DATABASE_URL":  testdb.URL(t),
		"TALLYQ_CONCURRENCY":   "1",
		"TALLYQ_MEMORY_BUDGET": "128MiB",
		"TALLYQ_METRICS_ADDR":  "127.0.0.1:0",
	}, "worker")
	var seen []map[string]any
	serving := p.waitLog(t, "serving metrics", &seen)
	base := "http://" + serving["addr"].(string)
	p.waitLog(t, "workers started", &seen)

	code, body := getText(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	// The engine's operations start at zero; the budget is the flag's.
	wantLines(t, "the worker's /metrics", body,
		`tallyq_chunks_processed_total{operation="TALLY"} 0`,
		`tallyq_chunks_in_flight{operation="DECRYPTION"} 0`,
		`tallyq_worker_memory_budget_bytes 1.34217728e+08`)
	for _, name := range []string{"tallyq_worker_heap_bytes ", "go_memstats_heap_alloc_bytes ", "process_resident_memory_bytes "} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("the worker's /metrics has no %s", name)
		}
	}
	// The deployment-wide database figures come from the API, not from
	// every worker.
	if strings.Contains(body, "tallyq_jobs{") {
		t.Errorf("the worker exports the database's job counts")
	}
	if code, body := getText(t, base+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("GET /healthz: %d %s", code, body)
	}
	if code := p.stop(t, &seen); code != 0 {
		t.Errorf("worker exited %d after SIGTERM; logs %v", code, seen)
	}
}

func TestServeServesMetrics(t *testing.T) {
	p := startProcess(t, map[string]string{
		"TALLYQ_DATABASE_URL": testdb.URL(t),
		"TALLYQ_ADMIN_TOKEN":  testToken,
		"TALLYQ_HTTP_ADDR":    "127.0.0.1:0",
		"TALLYQ_WORKERS":      "0",
	}, "serve")
	var seen []map[string]any
	base := "http://" + p.waitLog(t, "serving", &seen)["addr"].(string)

	if code, _ := getText(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("GET /healthz: %d", code)
	}
	code, body := getText(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	wantLines(t, "the API's /metrics", body,
		`tallyq_http_request_duration_seconds_count{method="GET",route="/healthz",status_class="2xx"} 1`,
		`tallyq_jobs{operation="TALLY",status="QUEUED"} 0`,
		`tallyq_queue_chunks{operation="COMBINE",state="available"} 0`,
		`tallyq_database_metrics_up 1`)
	// The River broker's empty outbox is not reported.
	if strings.Contains(body, "tallyq_outbox_") {
		t.Errorf("outbox gauges with the River broker and an empty outbox")
	}
	if code := p.stop(t, &seen); code != 0 {
		t.Errorf("serve exited %d after SIGTERM; logs %v", code, seen)
	}
}
