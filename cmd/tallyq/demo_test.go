package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/synth"
	"github.com/tallyq/tallyq/internal/testdb"
)

// demoArgs is a small, quick demo in the test group.
var demoArgs = []string{"demo", "--group", "test", "--ballots", "60", "--guardians", "5", "--quorum", "3", "--missing", "2",
	"--chunk-size", "10", "--workers", "2", "--encrypt-workers", "2", "--memory-budget", "0", "--poll-interval", "20ms"}

// runDemoTest runs the demo in this process on a fresh database, without
// TALLYQ_SECRET_KEY (so the demo makes its own), and returns its error,
// output and election.
func runDemoTest(t *testing.T, hooks demoHooks, args ...string) (error, string, string, *synth.Election, string) {
	t.Helper()
	url := testdb.URL(t)
	e, stdout, stderr := testEnv(map[string]string{"TALLYQ_DATABASE_URL": url})
	var el *synth.Election
	observe := hooks.election
	hooks.election = func(x *synth.Election) {
		el = x
		if observe != nil {
			observe(x)
		}
	}
	err := runDemoWith(context.Background(), e, args[1:], hooks)
	return err, stdout.String(), stderr.String(), el, url
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// The demo runs an election through tally, three decryptions, compensation
// for two missing guardians and combine; it prints each selection's votes
// as the voters cast them, says so on its last line, erases the sealed
// secrets and prints none of the guardians' secrets.
func TestDemoResultsMatchThePlaintext(t *testing.T) {
	var want *synth.Expected
	err, out, errOut, el, url := runDemoTest(t, demoHooks{expected: func(x *synth.Expected) { want = x }}, demoArgs...)
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if got := lastLine(out); !strings.HasPrefix(got, "demo: SUCCESS: ") || !strings.Contains(got, "(60 ballots: 57 cast, 3 spoiled; 3 of 5 guardians decrypted)") {
		t.Errorf("last line %q; want the success line with 57 cast, 3 spoiled, 3 of 5 guardians", got)
	}
	if !strings.Contains(out, "57 ballots cast, 3 spoiled, 0 invalid") || !strings.Contains(out, "3 spoiled ballots decrypted") {
		t.Errorf("the output does not give the ballot counts:\n%s", out)
	}
	for contest, selections := range want.Tally {
		for sel, votes := range selections {
			line := regexp.MustCompile(`(?m)^\s+Candidate \S+\s+(\d+)\s+[\d.]+%\s+` + regexp.QuoteMeta(sel) + `$`).FindStringSubmatch(out)
			if line == nil || line[1] != fmt.Sprint(votes) {
				t.Errorf("%s/%s: printed %v, want %d votes\n%s", contest, sel, line, votes, out)
			}
		}
	}
	for _, label := range []string{"encrypt + upload", "tally", "decrypt guardian-1", "decrypt guardian-3", "compensate + combine"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `\s+100% `).MatchString(errOut) {
			t.Errorf("no finished progress line for %q in\n%s", label, errOut)
		}
	}
	if strings.Contains(errOut, "guardian-4") || strings.Contains(errOut, "guardian-5") {
		t.Errorf("a missing guardian decrypted:\n%s", errOut)
	}
	assertNoGuardianSecrets(t, el, out+errOut)

	var state string
	var secrets int
	err = withConn(t, url, func(conn *pgx.Conn) error {
		return conn.QueryRow(context.Background(), `SELECT state, (SELECT count(*) FROM guardian_secrets) FROM elections`).Scan(&state, &secrets)
	})
	if err != nil || state != "DECRYPTED" || secrets != 0 {
		t.Errorf("election %s with %d sealed secrets (%v); want DECRYPTED and none", state, secrets, err)
	}
}

// assertNoGuardianSecrets checks that no guardian's secret key or
// polynomial coefficient appears in text, in hex of either case.
func assertNoGuardianSecrets(t *testing.T, el *synth.Election, text string) {
	t.Helper()
	text = strings.ToLower(text)
	for _, p := range el.Ceremony.Private {
		for j, c := range p.ElectionKeys.Polynomial.Coefficients {
			if h := strings.ToLower(c.Value.Hex.String()); strings.Contains(text, h) {
				t.Errorf("the output holds coefficient %d of %s", j, p.GuardianID)
			}
		}
	}
}

func withConn(t *testing.T, url string, fn func(*pgx.Conn) error) error {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return fn(conn)
}

// A result that differs from what the voters chose fails the demo, naming
// the selection. The expectation is altered here, after the election ran;
// the comparison is the demo's own.
func TestDemoReportsADifference(t *testing.T) {
	tamper := func(x *synth.Expected) { x.Tally["contest-2"]["contest-2-selection-3"]++ }
	err, out, errOut, _, _ := runDemoTest(t, demoHooks{expected: tamper}, demoArgs...)
	if err == nil {
		t.Fatalf("the demo succeeded against a wrong expectation:\n%s", out)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "FAILED: ") || !regexp.MustCompile(`contest contest-2, selection contest-2-selection-3: (\d+) votes, expected (\d+)$`).MatchString(msg) {
		t.Errorf("error %q; want FAILED naming contest-2-selection-3\nstderr:\n%s", msg, errOut)
	}
	if strings.Contains(out, "SUCCESS") {
		t.Errorf("the output claims success:\n%s", out)
	}
}

// --stop-after ingest leaves an OPEN election with its ballots, says how to
// tally it, and writes the guardians' records only where asked, privately.
func TestDemoStopAfterIngest(t *testing.T) {
	dir := t.TempDir()
	err, out, errOut, el, url := runDemoTest(t, demoHooks{}, "demo", "--group", "test", "--ballots", "20", "--stop-after", "ingest",
		"--save-guardians", dir, "--memory-budget", "0")
	if err != nil {
		t.Fatalf("demo: %v\n%s%s", err, out, errOut)
	}
	var id int64
	var state string
	var ballots int
	err = withConn(t, url, func(conn *pgx.Conn) error {
		return conn.QueryRow(context.Background(), `SELECT election_id, state, (SELECT count(*) FROM ballots) FROM elections`).Scan(&id, &state, &ballots)
	})
	if err != nil || state != "OPEN" || ballots != 20 {
		t.Fatalf("election %s with %d ballots (%v); want OPEN with 20", state, ballots, err)
	}
	for _, want := range []string{
		fmt.Sprintf("Election %d holds 20 ballots (19 cast, 1 spoiled) and is OPEN", id),
		fmt.Sprintf(`-d '{"election_id": %d}' http://localhost:8080/api/create-tally-queue`, id),
		"/api/create-decryption-queue",
		fmt.Sprintf("-d '{\"election_id\": %d}' http://localhost:8080/api/create-combine-queue", id),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if got := lastLine(out); got != fmt.Sprintf("demo: SUCCESS: election %d loaded with 20 ballots; stopped after ingest", id) {
		t.Errorf("last line %q", got)
	}
	for i := range el.Ceremony.Private {
		path := filepath.Join(dir, record.PrivateGuardiansDir, "private_guardian_"+synth.GuardianID(i)+".json")
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want a file of mode 0600", path, err, info.Mode())
		}
	}
	assertNoGuardianSecrets(t, el, out+errOut)

	// make run's guard: a database that holds an election gets no other.
	args := []string{"demo", "--group", "test", "--ballots", "20", "--stop-after", "ingest", "--skip-if-elections"}
	err, out, errOut, el, _ = runDemoTest(t, demoHooks{}, args...)
	if err != nil || el != nil || lastLine(out) != "demo: SKIPPED: the database already holds 1 election(s) (--skip-if-elections)" {
		t.Errorf("second demo with --skip-if-elections: %v, ran a ceremony: %t, output:\n%s%s", err, el != nil, out, errOut)
	}
}

func TestDemoUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--missing", "3"}, "--missing must be from 0 to"},
		{[]string{"--ballots", "10", "--spoiled", "11"}, "--spoiled 11 is more than the 10 ballots"},
		{[]string{"--quorum", "6"}, "--quorum must be from 1 to --guardians (5)"},
		{[]string{"--group", "tiny"}, `"tiny" is not one of standard, test`},
		{[]string{"--stop-after", "tally"}, `"tally" is not one of ingest, results`},
	} {
		code, _, errOut := runIn(t, map[string]string{}, append([]string{"demo"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("demo %v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}
