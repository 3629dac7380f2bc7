package main

import (
	"errors"
	"flag"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/secretscan"
)

// FuzzCommandLine parses arbitrary command lines and TALLYQ_* variables
// for serve, worker and token, as main does (parseOptions, after splitWord
// for token): a configuration it accepts is in range; one it refuses is a
// usage error (exit 2) or -h; no error shows the admin token or a password
// of the database or AMQP URL from the environment.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []struct {
		which                                   uint8
		args, databaseURL, token, amqpURL, name string
		value                                   string
	}{
		{0, "", "postgres://tallyq:Db5ecret99@db:5432/tallyq", "0123456789abcdef0123", "", "TALLYQ_WORKERS", "4"},
		{0, "--workers 0 --memory-budget=512MB", "postgres://localhost/tallyq", "0123456789abcdef0123", "", "TALLYQ_SHUTDOWN_GRACE", "5s"},
		{0, "--broker rabbitmq", "postgres://localhost/tallyq", "0123456789abcdef0123", "amqp://tallyq:Amqp5ecret7@rabbitmq:5672/", "TALLYQ_AMQP_QUEUE_PREFIX", ""},
		{0, "--broker rabbitmq", "postgres://localhost/tallyq", "0123456789abcdef0123", "amqp://guest:guest@rabbit/", "TALLYQ_LOG_LEVEL", "WARN"},
		{0, "", "postgres://localhost/tallyq", "short5ecret1", "", "TALLYQ_MEMORY_BUDGET", "-1"},
		{0, "extra", "postgres://localhost/tallyq", "0123456789abcdef0123", "", "TALLYQ_COMPUTE_NICE", "20"},
		{0, "-h", "", "", "", "TALLYQ_MAX_ATTEMPTS", "0"},
		{1, "--concurrency 0", "postgres://localhost/tallyq", "", "", "TALLYQ_GC_PERCENT", "-5"},
		{1, "--chunk-size=100001", "host=db user=u password=Kv5ecret42", "", "", "TALLYQ_LOG_FORMAT", "xml"},
		{1, "--log-level=trace", "postgres://localhost/tallyq", "", "", "TALLYQ_SHUTDOWN_GRACE", "-1s"},
		{2, "create --role guardian --election 3 --guardian 1", "postgres://localhost/tallyq", "", "", "TALLYQ_LOG_LEVEL", "debug"},
		{2, "revoke --id 0", "postgres://localhost/tallyq", "", "", "", ""},
		{2, "list create", "postgres://localhost/tallyq", "", "", "", ""},
		{2, "create --election x", "", "", "", "", ""},
	} {
		f.Add(s.which, s.args, s.databaseURL, s.token, s.amqpURL, s.name, s.value)
	}
	f.Fuzz(func(t *testing.T, which uint8, args, databaseURL, token, amqpURL, name, value string) {
		vars := map[string]string{"TALLYQ_DATABASE_URL": databaseURL, "TALLYQ_ADMIN_TOKEN": token, "TALLYQ_AMQP_URL": amqpURL}
		if strings.HasPrefix(name, "TALLYQ_") {
			vars[name] = value
		}
		e, _, _ := testEnv(vars)
		argv := strings.Fields(args)
		var err error
		var check func()
		switch which % 3 {
		case 0:
			var o serveOptions
			err = parseOptions(e, argv, "serve", "[flags]", "fuzz", &o)
			check = func() {
				checkEngineOptions(t, &o.engineOptions)
				if o.workers < 0 || o.httpAddr == "" || len(o.adminToken) < api.MinTokenLength {
					t.Fatalf("serve %q accepted %+v", args, o)
				}
			}
		case 1:
			var o workerOptions
			err = parseOptions(e, argv, "worker", "[flags]", "fuzz", &o)
			check = func() {
				checkEngineOptions(t, &o.engineOptions)
				if o.concurrency < 1 || o.gcPercent < 0 {
					t.Fatalf("worker %q accepted %+v", args, o)
				}
			}
		default:
			var o tokenOptions
			var flags []string
			flags, o.action, err = splitWord(argv, "create", "list", "revoke")
			if err == nil {
				err = parseOptions(e, flags, "token", "[flags]", "fuzz", &o)
			}
			check = func() {
				if o.databaseURL == "" || !slices.Contains([]string{"create", "list", "revoke"}, o.action) ||
					(o.action == "create" && o.role == "") || (o.action == "revoke" && o.tokenID < 1) {
					t.Fatalf("token %q accepted %+v", args, o)
				}
				if spec := o.spec("fuzz"); o.action == "create" && spec.Name == "" {
					t.Fatalf("token %q would create a token without a name: %+v", args, spec)
				}
			}
		}
		if err == nil {
			check()
			return
		}
		if !isUsageError(err) && !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%q: %v is not a usage error", args, err)
		}
		if strings.TrimSpace(err.Error()) == "" {
			t.Fatalf("%q: an empty error", args)
		}
		secrets := []string{token}
		for _, pw := range []string{secretscan.URLPassword(databaseURL), secretscan.URLPassword(amqpURL)} {
			// Each run of letters and digits of a password, which a
			// message may show when the password breaks the URL's syntax.
			secrets = append(secrets, pw)
			secrets = append(secrets, strings.FieldsFunc(pw, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })...)
		}
		if _, pw, ok := strings.Cut(databaseURL, "password="); ok && len(strings.Fields(pw)) > 0 {
			secrets = append(secrets, strings.Fields(pw)[0])
		}
		for _, s := range secrets {
			if !credential(s) || !strings.Contains(err.Error(), s) || strings.Contains(args, s) || strings.Contains(name+value, s) {
				continue
			}
			// Shown, unless it also stands in the URLs outside the password.
			if rest := strings.ReplaceAll(databaseURL+" "+amqpURL, s, ""); strings.Count(databaseURL+" "+amqpURL+" "+token, s) == 1 || !strings.Contains(rest, s) {
				t.Fatalf("%q with %v: error %q shows the secret %q", args, vars, err, s)
			}
		}
	})
}

// checkEngineOptions fails unless o, which validate accepted, is in range.
func checkEngineOptions(t *testing.T, o *engineOptions) {
	t.Helper()
	switch {
	case o.databaseURL == "", o.memoryBudget < 0, o.computeNice < 0 || o.computeNice > 19, o.maxAttempts < 1,
		o.chunkSize < 1 || o.chunkSize > maxChunkSize, o.shutdownGrace <= 0,
		!slices.Contains([]string{"river", "rabbitmq"}, o.broker.value),
		!slices.Contains([]string{"auto", "json", "text"}, o.logFormat.value),
		o.broker.value == "rabbitmq" && (o.amqpURL == "" || o.amqpPrefix == ""):
		t.Fatalf("accepted engine options out of range: %+v", *o)
	}
	if o.logLevel.level < slog.LevelDebug || o.logLevel.level > slog.LevelError {
		t.Fatalf("accepted log level %v", o.logLevel.level)
	}
}

// credential reports whether s looks like a secret worth hiding: 8 or more
// characters without spaces, letters and digits among them.
func credential(s string) bool {
	return len(s) >= 8 && !strings.ContainsFunc(s, unicode.IsSpace) &&
		strings.ContainsFunc(s, unicode.IsLetter) && strings.ContainsFunc(s, unicode.IsDigit)
}

// FuzzFlagValues sets the typed flags (sizes, log levels, choices, integer
// lists) from arbitrary text: what Set accepts, its String gives back, and
// setting that again keeps the value; sizes and lists are never negative.
func FuzzFlagValues(f *testing.F) {
	for _, s := range []string{"256MiB", "1.5GiB", "0", "info", "WARNING", "json", "rabbitmq", "1,2,4", "1_000, 8", "0,1", "-3", "", ",", "1e3", "9223372036854775807B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var size byteSize
		if size.Set(s) == nil {
			again := size
			if size < 0 || again.Set(size.String()) != nil || again != size {
				t.Fatalf("byteSize %q = %d, which reads back from %q as %d", s, size, size.String(), again)
			}
		}
		var level levelValue
		if level.Set(s) == nil {
			again := levelValue{}
			if again.Set(level.String()) != nil || again != level || level.level < slog.LevelDebug || level.level > slog.LevelError {
				t.Fatalf("level %q = %+v, which reads back as %+v", s, level, again)
			}
		}
		choice := choiceValue{value: "auto", choices: []string{"auto", "json", "text"}}
		if choice.Set(s) == nil && (choice.String() != s || !slices.Contains(choice.choices, s)) {
			t.Fatalf("choice %q = %q", s, choice.String())
		}
		var list intList
		if list.Set(s) == nil {
			var again intList
			if len(list) == 0 || slices.ContainsFunc(list, func(n int) bool { return n < 1 }) ||
				again.Set(list.String()) != nil || !slices.Equal(again, list) {
				t.Fatalf("intList %q = %v, which reads back from %q as %v", s, list, list.String(), again)
			}
		}
	})
}
