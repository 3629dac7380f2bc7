package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/synth"
	"github.com/tallyq/tallyq/internal/testdb"
)

// The demo election of the browser test: small and in the test group, so
// that every job takes a fraction of a second.
const (
	demoBallots    = 20
	demoSpoiled    = 2
	demoGuardians  = 3
	demoQuorum     = 2
	demoContests   = 3
	demoSelections = 4
	demoSeed       = 7
	demoChunkSize  = 5
)

// browserWait bounds each wait for the page.
const browserWait = time.Minute

// sessionCookie is the name of the session cookie (api/session.go).
const sessionCookie = "tallyq_session"

// chromiumPath returns Debian's chromium, or ends the test: skipped
// normally, failed when CI=true (CI must run every test).
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		why := "chromium is not installed (Debian package chromium; `make test` installs it when run as root)"
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	return path
}

// artifactsDir is where screenshots go: $TALLYQ_TEST_ARTIFACTS, else a
// directory under the system's temporary directory that outlives the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TALLYQ_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tallyq-web-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stack is `tallyq serve` (API only, no workers) on a database holding an
// OPEN demo election, and what the test knows of it.
type stack struct {
	bin         string
	vars        map[string]string // the database and sealing key, for serve and workers
	token       string
	base        string
	electionID  int64
	guardianDir string
	serve       *process
}

func startStack(t *testing.T) *stack {
	t.Helper()
	dbURL := testdb.URL(t)
	s := &stack{bin: buildTallyq(t), token: randomHex(t, 32), guardianDir: t.TempDir()}
	s.vars = map[string]string{"TALLYQ_DATABASE_URL": dbURL, "TALLYQ_SECRET_KEY": randomHex(t, 32)}
	runTallyq(t, s.bin, s.vars, "migrate", "up")
	out := runTallyq(t, s.bin, s.vars, "demo", "--stop-after", "ingest", "--save-guardians", s.guardianDir,
		"--group", "test", "--ballots", strconv.Itoa(demoBallots), "--spoiled", strconv.Itoa(demoSpoiled),
		"--guardians", strconv.Itoa(demoGuardians), "--quorum", strconv.Itoa(demoQuorum), "--missing", "1",
		"--contests", strconv.Itoa(demoContests), "--selections", strconv.Itoa(demoSelections),
		"--seed", strconv.Itoa(demoSeed), "--chunk-size", strconv.Itoa(demoChunkSize), "--workers", "2", "--encrypt-workers", "2")
	m := regexp.MustCompile(`Election (\d+) holds (\d+) ballots`).FindStringSubmatch(out)
	if m == nil || m[2] != strconv.Itoa(demoBallots) {
		t.Fatalf("the demo did not load an election of %d ballots:\n%s", demoBallots, out)
	}
	s.electionID, _ = strconv.ParseInt(m[1], 10, 64)

	vars := maps.Clone(s.vars)
	vars["TALLYQ_ADMIN_TOKEN"] = s.token
	vars["TALLYQ_HTTP_ADDR"] = "127.0.0.1:0"
	vars["TALLYQ_WORKERS"] = "0" // jobs wait for the workers the test starts
	s.serve = startTallyq(t, s.bin, vars, "serve")
	s.base = "http://" + s.serve.waitLog(t, "serving")["addr"].(string)
	return s
}

// startWorker starts a `tallyq worker` and waits until it consumes.
func (s *stack) startWorker(t *testing.T) *process {
	t.Helper()
	vars := maps.Clone(s.vars)
	vars["TALLYQ_CONCURRENCY"] = "2"
	w := startTallyq(t, s.bin, vars, "worker")
	w.waitLog(t, "workers started")
	return w
}

// guardianFile is the private record the demo saved for guardian i (from 0).
func (s *stack) guardianFile(i int) string {
	return filepath.Join(s.guardianDir, record.PrivateGuardiansDir, "private_guardian_"+synth.GuardianID(i)+".json")
}

// call sends a request with the admin's bearer token and returns the
// status and body.
func (s *stack) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	return s.request(t, method, path, body, "Bearer "+s.token)
}

// request sends a request with the Authorization header auth, if any.
func (s *stack) request(t *testing.T, method, path string, body any, auth string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// apiError makes a request that must fail and returns the API's message,
// which the page must show as it is.
func (s *stack) apiError(t *testing.T, method, path string, body any) string {
	t.Helper()
	status, out := s.call(t, method, path, body)
	return readError(t, method, path, status, out)
}

// readError returns the message of an error response, failing the test on
// anything else.
func readError(t *testing.T, method, path string, status int, out []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	if status < 400 || json.Unmarshal(out, &e) != nil || e.Error.Message == "" {
		t.Fatalf("%s %s: %d %s; want an error with a message", method, path, status, out)
	}
	return e.Error.Message
}

// expectedResults is what the demo election must decrypt to: the demo's
// voters' choices are a function of its seed.
func expectedResults(t *testing.T) *synth.Expected {
	t.Helper()
	el, err := synth.NewElection(eg.TestGroup(), synth.Options{Guardians: demoGuardians, Quorum: demoQuorum,
		Contests: demoContests, SelectionsPerContest: demoSelections, Seed: demoSeed})
	if err != nil {
		t.Fatal(err)
	}
	want, err := el.Generate(context.Background(), synth.BallotOptions{Count: demoBallots, Spoiled: demoSpoiled, Seed: demoSeed, Workers: 1},
		func(*record.SubmittedBallot) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// startBrowser starts headless chromium for the test.
func startBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// request is a request a tab sent.
type request struct {
	URL     string
	Method  string
	Headers network.Headers
}

// tab is one browser tab, recording its requests and its page's problems.
type tab struct {
	name string
	ctx  context.Context

	mu       sync.Mutex
	requests []request
	problems []string // uncaught exceptions and security violations
}

// newTab opens a tab; script, when set, runs in every document before the
// page's own scripts.
func newTab(t *testing.T, browser context.Context, name, script string) *tab {
	t.Helper()
	tb := &tab{name: name}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	tb.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	if script != "" {
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
			t.Fatalf("%s: add a script: %v", name, err)
		}
	}
	return tb
}

// listen runs in the tab's event loop: it only records.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, request{URL: ev.Request.URL, Method: ev.Request.Method, Headers: ev.Request.Headers})
	case *runtime.EventExceptionThrown:
		text := ev.ExceptionDetails.Text
		if ex := ev.ExceptionDetails.Exception; ex != nil {
			text += " " + ex.Description
		}
		tb.problems = append(tb.problems, "exception: "+text)
	case *log.EventEntryAdded:
		if ev.Entry.Source == log.EntrySourceSecurity || strings.Contains(ev.Entry.Text, "Content Security Policy") {
			tb.problems = append(tb.problems, "security: "+ev.Entry.Text)
		}
	}
}

func (tb *tab) seen() ([]request, []string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]request(nil), tb.requests...), append([]string(nil), tb.problems...)
}

// do runs actions, failing the test with what the page shows.
func (tb *tab) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %s: %v\n%s", tb.name, what, err, tb.describe())
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is truthy and returns it.
func waitFor[T any](t *testing.T, tb *tab, what, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait+5*time.Second)
	defer cancel()
	// Interval polling, not requestAnimationFrame: a tab in the background
	// gets no animation frames.
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v\n%s", tb.name, what, err, tb.describe())
	}
	return v
}

// describe tells what the page shows, for failure messages.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if err != nil {
		text = "(cannot read the page: " + err.Error() + ")"
	}
	_, problems := tb.seen()
	return "the page shows:\n" + text + "\nproblems: " + strings.Join(problems, "; ")
}

// screenshot saves a full-page PNG under the artifacts directory.
func (tb *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("%s: screenshot: %v", tb.name, err)
		return
	}
	path := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save the screenshot: %v", err)
		return
	}
	t.Logf("%s: screenshot saved to %s", tb.name, path)
}

// jobView is a job's item on the page.
type jobView struct {
	ID      string  `json:"id"`
	Status  string  `json:"status"`
	Percent float64 `json:"percent"`
	Live    string  `json:"live"`
	Error   string  `json:"error"`
	Retry   bool    `json:"retry"`
}

// errorBanner is the text of the page's error banner while it shows.
const errorBanner = `(() => { const e = document.getElementById('error'); return e.hidden ? '' : e.textContent; })()`

// Conditions on a jobView j.
const (
	jobEnded = `['COMPLETED', 'FAILED', 'CANCELLED'].includes(j.status)`
	jobWaits = `['QUEUED', 'IN_PROGRESS'].includes(j.status)`
)

// jobSelector finds a job's item by operation and, for a decryption, guardian.
func jobSelector(operation, guardian string) string {
	sel := fmt.Sprintf(`li[data-testid="job"][data-operation=%q]`, operation)
	if guardian != "" {
		sel += fmt.Sprintf(`[data-guardian-id=%q]`, guardian)
	}
	return sel
}

// waitJob waits until the job's item satisfies cond and returns it.
func (tb *tab) waitJob(t *testing.T, sel, cond string) jobView {
	t.Helper()
	return waitFor[jobView](t, tb, sel+" where "+cond, fmt.Sprintf(`(() => {
		const li = document.querySelector(%s);
		if (!li) return null;
		const j = {id: li.dataset.jobId, status: li.dataset.status, percent: li.querySelector('progress').value,
			live: li.dataset.live, error: (li.querySelector('[data-testid=job-error]') || {}).textContent || '',
			retry: !!li.querySelector('[data-testid=job-retry]')};
		return (%s) ? j : null;
	})()`, strconv.Quote(sel), cond))
}

// waitJobCompleted waits for the job to end and checks that its bar shows
// 100 %, live through mode when mode is set.
func (tb *tab) waitJobCompleted(t *testing.T, sel, mode string) jobView {
	t.Helper()
	j := tb.waitJob(t, sel, jobEnded)
	if j.Status != "COMPLETED" || j.Percent != 100 {
		t.Fatalf("%s: %s ended %s at %v %% (%s); want COMPLETED at 100 %%\n%s", tb.name, sel, j.Status, j.Percent, j.Error, tb.describe())
	}
	if mode != "" && j.Live != mode {
		t.Errorf("%s: %s was followed by %q, want %q", tb.name, sel, j.Live, mode)
	}
	return j
}

// chooseFile picks a guardian's file in the file input; the page reads it
// and selects the guardian it names.
func (tb *tab) chooseFile(t *testing.T, file, guardian string) {
	t.Helper()
	tb.do(t, "choose "+filepath.Base(file), chromedp.SetUploadFiles(chromedp.CSS("#guardian-file"), []string{file}))
	waitFor[bool](t, tb, "the page to read the chosen file",
		fmt.Sprintf(`document.getElementById('decrypt-form').dataset.chosen === %q`, filepath.Base(file)))
	if got := eval[string](t, tb, `document.getElementById('guardian-select').value`); got != guardian {
		t.Errorf("%s: the page selected guardian %q for %s; want %q", tb.name, got, filepath.Base(file), guardian)
	}
}

// waitDecrypted waits until the guardians table shows the guardian decrypted.
func (tb *tab) waitDecrypted(t *testing.T, guardian string) {
	t.Helper()
	waitFor[bool](t, tb, guardian+" shown as decrypted",
		fmt.Sprintf(`!!document.querySelector('tr[data-guardian-id=%q][data-decrypted="true"]')`, guardian))
}

// offlineShares computes guardian i's shares as it would on its own
// machine, from the exported election record, compensating for missing.
func (s *stack) offlineShares(t *testing.T, i int, missing string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "record")
	runTallyq(t, s.bin, s.vars, "export", "--election", strconv.FormatInt(s.electionID, 10), dir)
	out := filepath.Join(t.TempDir(), "shares_"+synth.GuardianID(i)+".json")
	runTallyq(t, s.bin, nil, "guardian", "decrypt", "--record", s.guardianFile(i), "--election-record", dir,
		"--missing", missing, "--out", out)
	return out
}

func TestBrowserElectionFlow(t *testing.T) {
	chromium := chromiumPath(t)
	s := startStack(t)
	browser := startBrowser(t, chromium)
	want := expectedResults(t)

	a := newTab(t, browser, "tab A (SSE)", "")
	defer func() {
		if t.Failed() {
			a.screenshot(t, "failure-tab-a.png")
		}
	}()
	signIn(t, a, s)
	worker := tallyWithRetry(t, a, s)
	checkBallotLookup(t, a, s)
	decryptTwoWays(t, a, s)
	if code := worker.stop(t); code != 0 {
		t.Errorf("the worker exited %d after SIGTERM", code)
	}

	// The combine runs from a tab without EventSource: its bar follows the
	// job by polling. The session cookie carries over to the new tab.
	b := newTab(t, browser, "tab B (polling)", "window.EventSource = undefined;")
	b.do(t, "open the election", chromedp.Navigate(fmt.Sprintf("%s/#/elections/%d", s.base, s.electionID)))
	waitFor[bool](t, b, "the election's state DECRYPTING", `document.getElementById('election-state').textContent === 'DECRYPTING'`)
	combine := jobSelector("COMBINE", "")
	b.do(t, "combine", chromedp.Click(chromedp.CSS("#start-combine")))
	b.waitJob(t, combine, jobWaits+` && j.live === 'poll'`)
	worker = s.startWorker(t)
	b.waitJobCompleted(t, combine, "poll")
	b.do(t, "see the results", chromedp.WaitVisible(chromedp.CSS("#results-section")))
	checkResults(t, b, want)
	b.screenshot(t, "polling-fallback.png")

	// Tab A shows the same results once refreshed.
	a.do(t, "refresh", chromedp.Click(chromedp.CSS("#refresh-election")), chromedp.WaitVisible(chromedp.CSS("#results-section")))
	checkResults(t, a, want)
	a.screenshot(t, "election-results.png")

	checkRequests(t, s, a, b)
	for _, tb := range []*tab{a, b} {
		if _, problems := tb.seen(); len(problems) > 0 {
			t.Errorf("%s: the page had problems: %s", tb.name, strings.Join(problems, "; "))
		}
	}

	checkNewSession(t, a, b, s)

	// Signing out ends the session: a reload asks for the token again.
	a.do(t, "sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#token")))
	a.do(t, "reload", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))

	if code := worker.stop(t); code != 0 {
		t.Errorf("the worker exited %d after SIGTERM", code)
	}
	if code := s.serve.stop(t); code != 0 {
		t.Errorf("serve exited %d after SIGTERM", code)
	}
	if strings.Contains(s.serve.log(), s.token) {
		t.Error("the server's log holds the admin token")
	}
}

// signIn opens the page, which asks for the token as there is no session
// yet, tries a wrong token (the page shows the API's refusal), then signs
// in and checks the session cookie.
func signIn(t *testing.T, tb *tab, s *stack) {
	t.Helper()
	tb.do(t, "open the page", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	wrong := randomHex(t, 32)
	status, out := s.request(t, http.MethodPost, "/api/session", map[string]string{"token": wrong}, "")
	refusal := readError(t, http.MethodPost, "/api/session", status, out)
	tb.do(t, "sign in with a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), wrong), chromedp.Click(chromedp.CSS("#sign-in")))
	if got := waitFor[string](t, tb, "the sign-in error", errorBanner); got != refusal {
		t.Errorf("a wrong token shows %q; want the API's message %q", got, refusal)
	}
	if got := eval[string](t, tb, `document.getElementById('token').value`); got != "" {
		t.Errorf("the token field still holds %d characters after a sign-in", len(got))
	}
	tb.do(t, "sign in", chromedp.SendKeys(chromedp.CSS("#token"), s.token), chromedp.Click(chromedp.CSS("#sign-in")))
	tb.do(t, "see the elections", chromedp.WaitVisible(chromedp.CSS(electionLink(s))))
	checkSessionCookie(t, tb, s)
}

func electionLink(s *stack) string {
	return fmt.Sprintf(`tr[data-election-id="%d"] a[data-testid="open-election"]`, s.electionID)
}

// tallyWithRetry opens the OPEN election and starts its tally, followed
// over SSE; the job waits for a worker, so cancelling it shows the
// cancelled job with a Retry button, which re-queues it. A worker then runs
// it to 100 %. It returns the worker.
func tallyWithRetry(t *testing.T, tb *tab, s *stack) *process {
	t.Helper()
	tb.do(t, "open the election", chromedp.Click(chromedp.CSS(electionLink(s))))
	waitFor[bool](t, tb, "the election's state OPEN", `document.getElementById('election-state').textContent === 'OPEN'`)
	tally := jobSelector("TALLY", "")
	tb.do(t, "start the tally", chromedp.Click(chromedp.CSS("#start-tally")))
	queued := tb.waitJob(t, tally, jobWaits+` && j.live === 'sse'`)

	if status, body := s.call(t, http.MethodPost, "/api/jobs/"+queued.ID+"/cancel", map[string]string{"reason": "browser test"}); status != http.StatusOK {
		t.Fatalf("cancel the tally: %d %s", status, body)
	}
	cancelled := tb.waitJob(t, tally, `j.status === 'CANCELLED'`)
	if !cancelled.Retry || cancelled.Error == "" {
		t.Errorf("a cancelled job shows error %q and retry %v; want a message and a Retry button", cancelled.Error, cancelled.Retry)
	}
	tb.do(t, "retry the tally", chromedp.Click(chromedp.CSS(tally+` [data-testid="job-retry"]`)))
	tb.waitJob(t, tally, jobWaits+` && j.live === 'sse'`)
	worker := s.startWorker(t)
	tb.waitJobCompleted(t, tally, "sse")
	waitFor[bool](t, tb, "the election's state TALLIED", `document.getElementById('election-state').textContent === 'TALLIED'`)
	return worker
}

// decryptTwoWays has guardian 1 decrypt on the server from its private
// record (and sees a record sent as another guardian's refused), and
// guardian 2 decrypt offline, compensating for the missing guardian 3, and
// upload its shares file.
func decryptTwoWays(t *testing.T, tb *tab, s *stack) {
	t.Helper()
	first := synth.GuardianID(0)
	tb.chooseFile(t, s.guardianFile(0), first)
	tb.do(t, "start guardian-1's decryption", chromedp.Click(chromedp.CSS("#start-decryption")))
	tb.waitJobCompleted(t, jobSelector("DECRYPTION", first), "")
	tb.waitDecrypted(t, first)
	checkDecryptionError(t, tb, s)

	second, missing := synth.GuardianID(1), synth.GuardianID(2)
	tb.chooseFile(t, s.offlineShares(t, 1, missing), second)
	tb.do(t, "upload guardian-2's shares", chromedp.Click(chromedp.CSS("#upload-shares")))
	tb.waitDecrypted(t, second)
}

// checkNewSession signs out and in again in tab B, which replaces the
// session cookie of both tabs: tab A's next POST, with the old session's
// CSRF token, must still reach the API (here, to be told that the tally
// exists), not end in a CSRF refusal.
func checkNewSession(t *testing.T, a, b *tab, s *stack) {
	t.Helper()
	b.do(t, "sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.do(t, "sign in again", chromedp.SendKeys(chromedp.CSS("#token"), s.token), chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#election-section")))
	status, out := s.call(t, http.MethodPost, "/api/create-tally-queue", map[string]int64{"election_id": s.electionID})
	var answer struct{ Message string }
	if status != http.StatusOK || json.Unmarshal(out, &answer) != nil || answer.Message == "" {
		t.Fatalf("POST /api/create-tally-queue of a tallied election: %d %s; want 200 with a message", status, out)
	}
	a.do(t, "start the tally again", chromedp.Click(chromedp.CSS("#start-tally")))
	got := waitFor[string](t, a, "a message", `(() => { const n = document.getElementById('notice'), e = document.getElementById('error');
		return !n.hidden ? n.textContent : !e.hidden ? 'error: ' + e.textContent : ''; })()`)
	if got != answer.Message {
		t.Errorf("the tab with the old session's CSRF token shows %q; want the API's answer %q", got, answer.Message)
	}
}

// checkSessionCookie checks that the session lives in an HttpOnly,
// SameSite=Strict cookie that the page's script cannot read.
func checkSessionCookie(t *testing.T, tb *tab, s *stack) {
	t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.base + "/"}})
	if err != nil {
		t.Fatalf("read the cookies: %v", err)
	}
	var found bool
	for _, c := range res.Cookies {
		if strings.Contains(c.Value, s.token) {
			t.Errorf("cookie %s holds the token", c.Name)
		}
		if c.Name != sessionCookie {
			continue
		}
		found = true
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/" {
			t.Errorf("cookie %s: HttpOnly %v, SameSite %q, Path %q; want HttpOnly, Strict, /", c.Name, c.HTTPOnly, c.SameSite, c.Path)
		}
	}
	if !found {
		t.Fatalf("no %s cookie after signing in; cookies %v", sessionCookie, res.Cookies)
	}
	if got := eval[string](t, tb, `document.cookie`); strings.Contains(got, sessionCookie) {
		t.Errorf("the page's script can read the session cookie: %q", got)
	}
}

// checkBallotLookup looks a counted ballot up by its tracking code, and an
// unknown code, whose answer is the API's message.
func checkBallotLookup(t *testing.T, tb *tab, s *stack) {
	t.Helper()
	var code, ballotID string
	err := testdb.New(t).QueryRow(context.Background(), `SELECT tracking_code, ballot_id FROM ballots
		WHERE election_id = $1 AND state = $2 ORDER BY ballot_no LIMIT 1`, s.electionID, int16(record.BallotCast)).Scan(&code, &ballotID)
	if err != nil {
		t.Fatalf("read a tracking code: %v", err)
	}
	tb.do(t, "look a ballot up", chromedp.SendKeys(chromedp.CSS("#tracking-code"), code), chromedp.Click(chromedp.CSS("#lookup-ballot")))
	type result struct {
		Status   string `json:"status"`
		BallotID string `json:"ballotId"`
		Text     string `json:"text"`
	}
	const read = `(() => { const r = document.getElementById('ballot-result');
		return r.dataset.status ? {status: r.dataset.status, ballotId: r.dataset.ballotId || '', text: r.textContent} : null; })()`
	got := waitFor[result](t, tb, "the ballot's status", read)
	if got.Status != "counted" || got.BallotID != ballotID {
		t.Errorf("ballot %s: the page says %+v; want %s counted", code, got, ballotID)
	}

	const unknown = "ABCDEF0123456789"
	msg := s.apiError(t, http.MethodGet, fmt.Sprintf("/api/elections/%d/ballots/%s", s.electionID, unknown), nil)
	tb.do(t, "look an unknown code up", chromedp.SetValue(chromedp.CSS("#tracking-code"), unknown), chromedp.Click(chromedp.CSS("#lookup-ballot")))
	got = waitFor[result](t, tb, "the lookup's error", strings.Replace(read, "r.dataset.status ?", "r.dataset.status === 'error' ?", 1))
	if got.Text != msg {
		t.Errorf("an unknown tracking code shows %q; want the API's message %q", got.Text, msg)
	}
}

// checkDecryptionError sends guardian 1's record as guardian 3's: the page
// shows the API's refusal.
func checkDecryptionError(t *testing.T, tb *tab, s *stack) {
	t.Helper()
	raw, err := os.ReadFile(s.guardianFile(0))
	if err != nil {
		t.Fatal(err)
	}
	msg := s.apiError(t, http.MethodPost, "/api/create-decryption-queue", map[string]any{
		"election_id": s.electionID, "guardian_id": synth.GuardianID(2), "guardian_record": json.RawMessage(raw)})
	tb.chooseFile(t, s.guardianFile(0), synth.GuardianID(0))
	tb.do(t, "decrypt as the wrong guardian", chromedp.SetValue(chromedp.CSS("#guardian-select"), synth.GuardianID(2)),
		chromedp.Click(chromedp.CSS("#start-decryption")))
	got := waitFor[string](t, tb, "the error banner", errorBanner)
	if got != msg {
		t.Errorf("the page shows %q; want the API's message %q", got, msg)
	}
}

// checkResults reads the results table and chart and compares them with
// the known plaintext.
func checkResults(t *testing.T, tb *tab, want *synth.Expected) {
	t.Helper()
	type row struct {
		Contest   string `json:"contest"`
		Selection string `json:"selection"`
		Votes     int64  `json:"votes"`
	}
	rows := eval[[]row](t, tb, `[...document.querySelectorAll('tr[data-testid=result-row]')].map(r => ({
		contest: r.dataset.contestId, selection: r.dataset.selectionId,
		votes: Number(r.querySelector('[data-testid=votes]').textContent)}))`)
	got := map[string]map[string]int64{}
	for _, r := range rows {
		if got[r.Contest] == nil {
			got[r.Contest] = map[string]int64{}
		}
		got[r.Contest][r.Selection] = r.Votes
	}
	if !maps.EqualFunc(got, want.Tally, maps.Equal) {
		t.Errorf("the results table shows %v; the voters chose %v", got, want.Tally)
	}
	bars := eval[[]row](t, tb, `[...document.querySelectorAll('svg[data-testid=chart] rect.bar')].map(r => ({
		contest: r.closest('[data-testid=contest]').dataset.contestId, selection: r.dataset.selectionId,
		votes: Number(r.dataset.votes)}))`)
	if len(bars) != len(rows) {
		t.Errorf("the chart has %d bars for %d result rows", len(bars), len(rows))
	}
	for _, b := range bars {
		if got[b.Contest][b.Selection] != b.Votes {
			t.Errorf("the chart's bar of %s/%s shows %d votes, the table %d", b.Contest, b.Selection, b.Votes, got[b.Contest][b.Selection])
		}
	}
	type summary struct {
		Cast    int `json:"cast"`
		Spoiled int `json:"spoiled"`
	}
	sum := eval[summary](t, tb, `(() => { const d = document.getElementById('results-summary').dataset;
		return {cast: Number(d.cast), spoiled: Number(d.spoiled)}; })()`)
	if sum.Cast != want.Cast || sum.Spoiled != want.Spoiled {
		t.Errorf("the results say %d cast and %d spoiled; want %d and %d", sum.Cast, sum.Spoiled, want.Cast, want.Spoiled)
	}
}

// checkRequests checks what the tabs sent: never the token in a URL or a
// header, no web storage, SSE in tab A and polling in tab B.
func checkRequests(t *testing.T, s *stack, a, b *tab) {
	t.Helper()
	for _, tb := range []*tab{a, b} {
		requests, _ := tb.seen()
		var events, polls int
		for _, r := range requests {
			if strings.Contains(r.URL, s.token) {
				t.Errorf("%s: a request URL holds the token: %s %s", tb.name, r.Method, r.URL)
			}
			for k, v := range r.Headers {
				if strings.Contains(fmt.Sprint(v), s.token) {
					t.Errorf("%s: header %s of %s %s holds the token", tb.name, k, r.Method, r.URL)
				}
			}
			switch {
			case strings.HasSuffix(r.URL, "/events"):
				events++
			case strings.HasSuffix(r.URL, "/status"):
				polls++
			}
		}
		storage := eval[string](t, tb, `JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])`)
		if storage != "[[],[]]" {
			t.Errorf("%s: the page stored %s in web storage", tb.name, storage)
		}
		switch {
		case tb == a && (events == 0 || polls > 0):
			t.Errorf("%s: %d SSE streams and %d status polls; want SSE only", tb.name, events, polls)
		case tb == b && (events > 0 || polls == 0):
			t.Errorf("%s: %d SSE streams and %d status polls; want polling only", tb.name, events, polls)
		}
	}
}
