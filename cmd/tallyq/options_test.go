package main

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testEnv returns an env whose variables are vars and whose output is kept.
func testEnv(vars map[string]string) (*env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &env{
		lookupEnv: func(name string) (string, bool) { v, ok := vars[name]; return v, ok },
		stdout:    &stdout,
		stderr:    &stderr,
	}, &stdout, &stderr
}

func parseServe(t *testing.T, vars map[string]string, args ...string) (serveOptions, error) {
	t.Helper()
	var opts serveOptions
	e, _, _ := testEnv(vars)
	err := parseOptions(e, args, "serve", "[flags]", "test", &opts)
	return opts, err
}

const testToken = "0123456789abcdef0123"

func TestServeDefaults(t *testing.T) {
	opts, err := parseServe(t, map[string]string{
		"TALLYQ_DATABASE_URL": "postgres://localhost/tallyq",
		"TALLYQ_ADMIN_TOKEN":  testToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.httpAddr != ":8080" || opts.workers != 2 || opts.maxAttempts != 5 ||
		opts.shutdownGrace != 30*time.Second || opts.memoryBudget != 256<<20 ||
		opts.broker.value != "river" || opts.logLevel.level != slog.LevelInfo || opts.logFormat.value != "auto" {
		t.Errorf("defaults: %+v", opts)
	}
}

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	vars := map[string]string{
		"TALLYQ_DATABASE_URL":   "postgres://env/tallyq",
		"TALLYQ_ADMIN_TOKEN":    testToken,
		"TALLYQ_HTTP_ADDR":      ":9000",
		"TALLYQ_WORKERS":        "7",
		"TALLYQ_MEMORY_BUDGET":  "1GiB",
		"TALLYQ_MAX_ATTEMPTS":   "9",
		"TALLYQ_SHUTDOWN_GRACE": "5s",
		"TALLYQ_LOG_LEVEL":      "debug",
		"TALLYQ_LOG_FORMAT":     "text",
	}
	opts, err := parseServe(t, vars, "--database-url", "postgres://flag/tallyq", "--workers", "0", "--memory-budget=512MB")
	if err != nil {
		t.Fatal(err)
	}
	// Flags given on the command line win …
	if opts.databaseURL != "postgres://flag/tallyq" || opts.workers != 0 || opts.memoryBudget != 512_000_000 {
		t.Errorf("flags did not override the environment: %+v", opts)
	}
	// … the environment fills in the rest.
	if opts.httpAddr != ":9000" || opts.maxAttempts != 9 || opts.shutdownGrace != 5*time.Second ||
		opts.logLevel.level != slog.LevelDebug || opts.logFormat.value != "text" || opts.adminToken != testToken {
		t.Errorf("environment not applied: %+v", opts)
	}
}

func TestEmptyEnvKeepsDefault(t *testing.T) {
	opts, err := parseServe(t, map[string]string{
		"TALLYQ_DATABASE_URL": "postgres://localhost/tallyq",
		"TALLYQ_ADMIN_TOKEN":  testToken,
		"TALLYQ_HTTP_ADDR":    "",
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.httpAddr != ":8080" {
		t.Errorf("httpAddr = %q, want the default", opts.httpAddr)
	}
}

func TestWorkerConcurrencyDefaultsToCPUs(t *testing.T) {
	var opts workerOptions
	fs := newFlagSet("worker", "[flags]", "test")
	opts.register(fs)
	e, _, _ := testEnv(map[string]string{"TALLYQ_DATABASE_URL": "postgres://localhost/tallyq"})
	if err := fs.parse(nil, e); err != nil {
		t.Fatal(err)
	}
	if err := opts.validate(); err != nil {
		t.Fatal(err)
	}
	if opts.concurrency != runtime.NumCPU() {
		t.Errorf("concurrency = %d, want %d", opts.concurrency, runtime.NumCPU())
	}
	if err := fs.parse([]string{"--concurrency", "0"}, e); err != nil {
		t.Fatal(err)
	}
	if err := opts.validate(); err == nil || !strings.Contains(err.Error(), "--concurrency") {
		t.Errorf("concurrency 0: err = %v, want one naming --concurrency", err)
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	base := map[string]string{"TALLYQ_DATABASE_URL": "postgres://localhost/tallyq", "TALLYQ_ADMIN_TOKEN": testToken}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for key, val := range base {
			m[key] = val
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no database", with("TALLYQ_DATABASE_URL", ""), nil, "make run"},
		{"no token", with("TALLYQ_ADMIN_TOKEN", ""), nil, "TALLYQ_ADMIN_TOKEN"},
		{"short token", with("TALLYQ_ADMIN_TOKEN", "short-secret"), nil, "at least 16"},
		{"rabbitmq without URL", base, []string{"--broker", "rabbitmq"}, "TALLYQ_AMQP_URL"},
		{"rabbitmq as guest off loopback", with("TALLYQ_AMQP_URL", "amqp://guest:guest@rabbitmq:5672/"), []string{"--broker", "rabbitmq"}, "guest/guest"},
		{"rabbitmq URL with a bad port", with("TALLYQ_AMQP_URL", "amqp://u:hunter2@rabbitmq:port/"), []string{"--broker", "rabbitmq"}, "not valid"},
		{"unknown broker", base, []string{"--broker", "kafka"}, "not one of river"},
		{"unknown broker in env", with("TALLYQ_BROKER", "kafka"), nil, "TALLYQ_BROKER"},
		{"bad workers env", with("TALLYQ_WORKERS", "many"), nil, "TALLYQ_WORKERS"},
		{"negative workers", base, []string{"--workers", "-1"}, "--workers"},
		{"bad memory budget", base, []string{"--memory-budget", "lots"}, "memory-budget"},
		{"zero attempts", base, []string{"--max-attempts", "0"}, "--max-attempts"},
		{"bad log level", base, []string{"--log-level", "loud"}, "debug, info, warn or error"},
		{"bad log format", with("TALLYQ_LOG_FORMAT", "xml"), nil, "TALLYQ_LOG_FORMAT"},
		{"short lease", base, []string{"--lease", "1s"}, "--lease must be at least 3s"},
		{"negative connect wait", with("TALLYQ_CONNECT_WAIT", "-1s"), nil, "--connect-wait must not be negative"},
		{"zero grace", base, []string{"--shutdown-grace", "0s"}, "--shutdown-grace"},
		{"stray argument", base, []string{"now"}, "unexpected argument"},
		{"unknown flag", base, []string{"--colour"}, "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServe(t, tc.vars, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if !isUsageError(err) {
				t.Errorf("err = %v is not a usage error", err)
			}
		})
	}
}

func TestShortTokenIsNotEchoed(t *testing.T) {
	const secret = "hunter2-secret"
	_, err := parseServe(t, map[string]string{"TALLYQ_DATABASE_URL": "postgres://x/y", "TALLYQ_ADMIN_TOKEN": secret})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v: want an error that does not quote the token", err)
	}
}

func TestHelpNamesEnvironmentAndDefaults(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"serve", []string{
			"Usage: tallyq serve", "$TALLYQ_DATABASE_URL", "$TALLYQ_LOG_LEVEL", "$TALLYQ_LOG_FORMAT", "$TALLYQ_BROKER",
			"$TALLYQ_HTTP_ADDR", `(default ":8080")`, "$TALLYQ_WORKERS", "(default 2)", "$TALLYQ_ADMIN_TOKEN",
			"$TALLYQ_MEMORY_BUDGET", "(default 256MiB)", "$TALLYQ_MAX_ATTEMPTS", "(default 5)",
			"$TALLYQ_SHUTDOWN_GRACE", "(default 30s)", "(default info)", "(default river)",
		}},
		{"worker", []string{"Usage: tallyq worker", "$TALLYQ_CONCURRENCY", "$TALLYQ_MEMORY_BUDGET", "$TALLYQ_MAX_ATTEMPTS", "$TALLYQ_SHUTDOWN_GRACE", "$TALLYQ_DATABASE_URL"}},
		{"migrate", []string{"Usage: tallyq migrate", "up|down|version", "$TALLYQ_DATABASE_URL", "-yes"}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			e, stdout, stderr := testEnv(nil)
			if code := run(context.Background(), e, []string{tc.cmd, "-h"}); code != 0 {
				t.Fatalf("exit %d, stderr: %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, ""},
		{[]string{"help"}, 0, ""},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "--nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"serve"}, 2, "no database"},
		{[]string{"migrate", "--database-url", "postgres://localhost/x"}, 2, "say up, down or version"},
		{[]string{"migrate", "down", "--database-url", "postgres://localhost/x"}, 2, "--yes"},
		{[]string{"migrate", "up", "down"}, 2, "not up and down"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e, _, stderr := testEnv(nil)
			if code := run(context.Background(), e, tc.args); code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.stderr)
			}
		})
	}
}

func TestLoggerFormat(t *testing.T) {
	for _, tc := range []struct {
		format   string
		terminal bool
		json     bool
	}{
		{"auto", false, true},
		{"auto", true, false},
		{"json", true, true},
		{"text", false, false},
	} {
		e, _, stderr := testEnv(nil)
		e.stderrIsTerminal = tc.terminal
		o := dbOptions{logLevel: levelValue{name: "info", level: slog.LevelInfo}, logFormat: choiceValue{value: tc.format}}
		o.logger(e).Debug("hidden")
		o.logger(e).Info("hello")
		out := stderr.String()
		if strings.Contains(out, "hidden") {
			t.Errorf("%s: a debug line passed an info level: %s", tc.format, out)
		}
		if got := strings.HasPrefix(out, "{"); got != tc.json {
			t.Errorf("format %s, terminal %v: JSON = %v, want %v: %s", tc.format, tc.terminal, got, tc.json, out)
		}
	}
}
