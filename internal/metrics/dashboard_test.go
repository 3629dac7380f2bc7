package metrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// dashboardFile is the Grafana dashboard, relative to this package.
var dashboardFile = filepath.Join("..", "..", "deploy", "grafana", "dashboards", "tallyq.json")

// grafanaPanel is the part of Grafana's panel JSON model the test reads.
// Rows hold their panels in panels when collapsed.
type grafanaPanel struct {
	Title      string          `json:"title"`
	Type       string          `json:"type"`
	Datasource *grafanaSource  `json:"datasource"`
	Targets    []grafanaTarget `json:"targets"`
	Panels     []grafanaPanel  `json:"panels"`
}

type grafanaTarget struct {
	Expr       string         `json:"expr"`
	Datasource *grafanaSource `json:"datasource"`
}

type grafanaSource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// panelExpr is one PromQL expression with the panel showing it.
type panelExpr struct {
	panel, expr string
}

// dashboardExprs returns every target expression of the dashboard's panels,
// rows' nested panels included, and checks each panel's data source.
func dashboardExprs(t *testing.T) []panelExpr {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatalf("read the dashboard: %v", err)
	}
	var dash struct {
		Title  string         `json:"title"`
		UID    string         `json:"uid"`
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("parse %s: %v", dashboardFile, err)
	}
	var out []panelExpr
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "prometheus" {
				t.Errorf("panel %q: datasource %+v, want uid prometheus", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no targets", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID != "prometheus" {
					t.Errorf("panel %q: a target's datasource %+v, want uid prometheus", p.Title, tg.Datasource)
				}
				out = append(out, panelExpr{p.Title, tg.Expr})
			}
		}
	}
	walk(dash.Panels)
	return out
}

// exported reports whether /metrics has the series a PromQL selector of
// name reads: the family itself, or a histogram's or summary's _bucket,
// _sum or _count.
func exported(m exposition, name string) bool {
	if m[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok || m[base] == nil {
			continue
		}
		switch m[base].GetType() {
		case dto.MetricType_HISTOGRAM:
			return true
		case dto.MetricType_SUMMARY:
			return suffix != "_bucket"
		}
	}
	return false
}

func TestDashboardUsesExportedMetrics(t *testing.T) {
	exprs := dashboardExprs(t)
	// A job is running, so that its progress series exist, and a request
	// has been answered, so that the HTTP histogram has series.
	s, _, _ := runGated(t)
	s.get("/api/jobs/active")
	_, m := s.scrape()

	used := map[string]bool{}
	for _, e := range exprs {
		names := metricNames(e.expr)
		if len(names) == 0 {
			t.Errorf("panel %q: no metric name in %q", e.panel, e.expr)
		}
		for _, name := range names {
			used[name] = true
			if !exported(m, name) {
				t.Errorf("panel %q: metric %s (in %q) is not in /metrics", e.panel, name, e.expr)
			}
		}
	}
	// The panels the issue asks for.
	for _, name := range []string{
		"tallyq_job_chunks_processed", "tallyq_job_chunks", // job progress
		"tallyq_chunks_processed_total",                             // chunk rate
		"tallyq_chunks_failed_total", "tallyq_chunks_retried_total", // failures and retries
		"tallyq_chunk_duration_seconds_bucket",         // duration quantiles
		"tallyq_queue_chunks",                          // queue depth
		"tallyq_worker_heap_bytes",                     // worker memory
		"tallyq_http_request_duration_seconds_bucket",  // HTTP p99
		"tallyq_outbox_oldest_unpublished_age_seconds", // outbox lag
	} {
		if !used[name] {
			t.Errorf("no panel uses %s", name)
		}
	}
}

// promqlKeywords are the words of PromQL that are not metric names:
// aggregation operators (which may come before their "by" clause, not
// before a parenthesis), binary operators and modifiers.
var promqlKeywords = []string{
	"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
	"bottomk", "topk", "quantile", "limitk", "limit_ratio",
	"and", "or", "unless", "atan2", "bool", "offset", "inf", "nan",
	"by", "without", "on", "ignoring", "group_left", "group_right",
}

// labelListKeywords are followed by a parenthesized list of label names.
var labelListKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}

// metricNames returns the metric names a PromQL expression selects: its
// identifiers that are not functions (followed by "("), keywords, label
// names (in {} matchers or label lists), strings, numbers, durations or
// Grafana variables.
func metricNames(expr string) []string {
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{':
			i = skipPast(expr, i, '}')
		case c == '[':
			i = skipPast(expr, i, ']')
		case c == '$': // a Grafana variable: $name or ${name}
			i++
			if i < len(expr) && expr[i] == '{' {
				i = skipPast(expr, i, '}')
			} else {
				i = identEnd(expr, i)
			}
		case isIdentStart(c):
			end := identEnd(expr, i)
			word := expr[i:end]
			next := strings.TrimLeft(expr[end:], " \t\n")
			i = end
			switch {
			case slices.Contains(labelListKeywords, word) && strings.HasPrefix(next, "("):
				i = skipPast(expr, strings.Index(expr[i:], "(")+i, ')')
			case slices.Contains(promqlKeywords, word), strings.HasPrefix(next, "("):
			default:
				names = append(names, word)
			}
		case c >= '0' && c <= '9' || c == '.': // a number or a duration (5m, 1e3, 0x1f)
			i = identEnd(expr, i+1)
		default:
			i++
		}
	}
	return names
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// identEnd returns the end of the identifier (or number) starting at i.
func identEnd(s string, i int) int {
	for i < len(s) && (isIdentStart(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '.') {
		i++
	}
	return i
}

// skipString returns the index just past the quoted string starting at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quote != '`':
			i++
		case s[i] == quote:
			return i + 1
		}
	}
	return i
}

// skipPast returns the index just past the close that ends the bracket
// opened at i, skipping quoted strings (where a '}' may appear).
func skipPast(s string, i int, closer byte) int {
	for i++; i < len(s); {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
		case closer:
			return i + 1
		default:
			i++
		}
	}
	return i
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route!="/x/{id}"}[$__rate_interval])))`: {"a_bucket"},
		`sum(rate(b_total[5m])) by (operation) / on (job) group_left (x) c offset 1h`:                       {"b_total", "c"},
		`max by (job_id) (d) / max without (state) (e{state=~"a|b", x='}'})`:                                {"d", "e"},
		`topk(5, f) > bool 0.5 and g unless h or i`:                                                         {"f", "g", "h", "i"},
		`min(tallyq:ratio:rate5m) * 1e3 + ${var} - $x`:                                                      {"tallyq:ratio:rate5m"},
		"count_values(\"v\", j) + sum   (k)":                                                                {"j", "k"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}
