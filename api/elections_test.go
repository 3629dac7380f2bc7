package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/archive"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/jobs/election"
)

// The real election service implements the API's view of it.
var _ api.ElectionService = (*election.Service)(nil)

// newElectionFixture is newFixture with the election pipeline on the
// engine and its routes on the server, workers running. Each configure
// function may change the server's Config before it starts.
func newElectionFixture(t *testing.T, configure ...func(*api.Config)) *fixture {
	t.Helper()
	return newElectionFixtureWith(t, func(_ *fixture, cfg *api.Config) {
		for _, c := range configure {
			c(cfg)
		}
	})
}

// newElectionFixtureWith is newElectionFixture whose configure function
// also sees the fixture (its pool, its engine).
func newElectionFixtureWith(t *testing.T, configure func(*fixture, *api.Config)) *fixture {
	t.Helper()
	f := newFixture(t)
	cfg := api.Config{Jobs: f.engine, Elections: newElectionService(t, f), AdminToken: testToken, Logger: slog.New(slog.DiscardHandler)}
	configure(f, &cfg)
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Close()
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	f.runWorkers()
	return f
}

// newElectionService is the election pipeline on the fixture's engine,
// with a random key to seal guardian secrets.
func newElectionService(t *testing.T, f *fixture) *election.Service {
	t.Helper()
	b := make([]byte, seal.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	key, err := seal.ParseKey(hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := election.New(f.pool, f.engine, election.Config{SecretKey: &key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// recordArchive packs a fixture's election record as a .tar.gz upload.
func recordArchive(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := archive.NewTarGzWriter(&buf, "election_record")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return w.Put(filepath.ToSlash(rel), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// importFixture uploads the minimal sample election and returns its id.
func (f *fixture) importFixture(pub string) int64 {
	f.t.Helper()
	resp, body := f.do(request{method: "POST", path: "/api/elections/import", contentType: "application/gzip",
		body: bytes.NewReader(recordArchive(f.t, pub))})
	if resp.StatusCode != http.StatusCreated {
		f.t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	var imp api.ImportResponse
	if err := json.Unmarshal(body, &imp); err != nil {
		f.t.Fatal(err)
	}
	if imp.Ballots.Rejected != 0 || imp.Ballots.Stored == 0 {
		f.t.Fatalf("import report %+v", imp.Ballots)
	}
	return imp.ElectionID
}

// queue posts a create-*-queue request and returns the response.
func (f *fixture) queue(path, body string, wantStatus int) api.QueueResponse {
	f.t.Helper()
	resp, raw := f.do(request{method: "POST", path: path, contentType: "application/json", body: jsonBody(body)})
	if resp.StatusCode != wantStatus {
		f.t.Fatalf("POST %s %s: %d %s, want %d", path, body, resp.StatusCode, raw, wantStatus)
	}
	var q api.QueueResponse
	if err := json.Unmarshal(raw, &q); err != nil {
		f.t.Fatal(err)
	}
	if !q.Success || q.PollURL != "/api/jobs/"+q.JobID.String()+"/status" || q.JobID == uuid.Nil {
		f.t.Fatalf("queue response %s", raw)
	}
	return q
}

// wantError checks an error response's status and that its message says
// what is wrong.
func (f *fixture) wantError(req request, status int, contains string) {
	f.t.Helper()
	resp, body := f.do(req)
	var e api.ErrorBody
	if resp.StatusCode != status || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error.Message, contains) {
		f.t.Errorf("%s %s: %d %s; want %d with a message containing %q", req.method, req.path, resp.StatusCode, body, status, contains)
	}
}

func guardianRecord(t *testing.T, priv, id string) json.RawMessage {
	raw, err := os.ReadFile(filepath.Join(priv, "private_guardians", "private_guardian_"+id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func decryptionBody(t *testing.T, electionID int64, guardian string, rec json.RawMessage) string {
	b, err := json.Marshal(api.DecryptionRequest{ElectionID: &electionID, GuardianID: guardian, GuardianRecord: rec})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The sample election through the HTTP API, with the state errors on the way.
func TestElectionPipelineOverHTTP(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	f := newElectionFixture(t)
	id := f.importFixture(pub)
	idBody := `{"election_id": ` + itoa(id) + `}`

	ballots, _ := os.ReadDir(filepath.Join(pub, record.SubmittedBallotsDir))
	resp, body := f.do(request{method: "GET", path: "/api/elections"})
	var list struct{ Elections []election.Summary }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil {
		t.Fatalf("election list: %d %s", resp.StatusCode, body)
	}
	if len(list.Elections) != 1 || list.Elections[0].ElectionID != id || list.Elections[0].State != election.StateOpen || list.Elections[0].Ballots != int64(len(ballots)) {
		t.Fatalf("election list %s, want the one imported election, OPEN with its %d ballots", body, len(ballots))
	}

	// Ballot upload: an identical re-upload, a changed ballot under a known
	// id, garbage and a wrong state are each reported on their line.
	first, err := os.ReadFile(filepath.Join(pub, record.SubmittedBallotsDir, ballots[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(first, &b); err != nil {
		t.Fatal(err)
	}
	compact := func(v any) string { out, _ := json.Marshal(v); return string(out) }
	same := compact(b)
	b["timestamp"] = b["timestamp"].(float64) + 1
	changed := compact(b)
	b["state"] = 3
	nd := strings.Join([]string{same, changed, "{not json", `{"object_id": "x", "bogus": 1}`}, "\n")
	resp, body = f.do(request{method: "POST", path: "/api/elections/" + itoa(id) + "/ballots", contentType: "application/x-ndjson", body: jsonBody(nd)})
	var rep api.IngestResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &rep) != nil {
		t.Fatalf("ballot upload: %d %s", resp.StatusCode, body)
	}
	if rep.Received != 4 || rep.AlreadyStored != 1 || rep.Stored != 0 || rep.Rejected != 3 || len(rep.Errors) != 3 {
		t.Fatalf("ballot upload report %s", body)
	}
	for i, want := range []string{"ballot code", "not a submitted ballot", "unknown field"} {
		if rep.Errors[i].Line != i+2 || !strings.Contains(rep.Errors[i].Error, want) {
			t.Errorf("line %d: %+v, want an error containing %q", i+2, rep.Errors[i], want)
		}
	}

	// Decryption and combine before the tally are conflicts.
	f.wantError(request{method: "POST", path: "/api/create-decryption-queue", contentType: "application/json",
		body: jsonBody(decryptionBody(t, id, "1", guardianRecord(t, priv, "1")))}, http.StatusConflict, "is OPEN")
	f.wantError(request{method: "POST", path: "/api/create-combine-queue", contentType: "application/json", body: jsonBody(idBody)},
		http.StatusConflict, "is OPEN")

	tally := f.queue("/api/create-tally-queue", idBody, http.StatusAccepted)
	again := f.queue("/api/create-tally-queue", idBody, http.StatusOK)
	if again.JobID != tally.JobID {
		t.Fatalf("second tally request got job %s, want %s", again.JobID, tally.JobID)
	}
	f.wantError(request{method: "POST", path: "/api/elections/" + itoa(id) + "/ballots", contentType: "application/x-ndjson",
		body: jsonBody(same)}, http.StatusConflict, "only while it is OPEN")
	if p := f.waitForJob(tally.JobID, func(jobProgress) {}); p.Status != "COMPLETED" {
		t.Fatalf("tally ended %+v", p)
	}

	// A wrong secret key is refused, naming the mismatch.
	var wrong map[string]any
	if err := json.Unmarshal(guardianRecord(t, priv, "1"), &wrong); err != nil {
		t.Fatal(err)
	}
	other, _ := json.Marshal(mustMap(t, guardianRecord(t, priv, "2"))["election_keys"])
	wrong["election_keys"] = json.RawMessage(other)
	wrongRaw, _ := json.Marshal(wrong)
	f.wantError(request{method: "POST", path: "/api/create-decryption-queue", contentType: "application/json",
		body: jsonBody(decryptionBody(t, id, "1", wrongRaw))}, http.StatusBadRequest, "does not match guardian \"1\"'s public key")

	for _, g := range []string{"1", "2"} {
		q := f.queue("/api/create-decryption-queue", decryptionBody(t, id, g, guardianRecord(t, priv, g)), http.StatusAccepted)
		f.waitForJob(q.JobID, func(jobProgress) {})
	}
	f.wantError(request{method: "POST", path: "/api/create-combine-queue", contentType: "application/json", body: jsonBody(idBody)},
		http.StatusConflict, "the quorum is 3")
	q := f.queue("/api/create-decryption-queue", decryptionBody(t, id, "3", guardianRecord(t, priv, "3")), http.StatusAccepted)
	f.waitForJob(q.JobID, func(jobProgress) {})
	combine := f.queue("/api/create-combine-queue", idBody, http.StatusAccepted)
	if p := f.waitForJob(combine.JobID, func(jobProgress) {}); p.Status != "COMPLETED" {
		t.Fatalf("combine ended %+v", p)
	}

	// Results equal the published tally.
	resp, body = f.do(request{method: "GET", path: "/api/elections/" + itoa(id) + "/results"})
	var res election.Results
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil {
		t.Fatalf("results: %d %s", resp.StatusCode, body)
	}
	published := mustPlaintext(t, filepath.Join(pub, record.TallyFile))
	n := 0
	for _, c := range res.Contests {
		pc, _ := published.Contests.Get(c.ContestID)
		for _, s := range c.Selections {
			ps, ok := pc.Selections.Get(s.SelectionID)
			if !ok || ps.Tally != s.Votes {
				t.Errorf("contest %s selection %s: %d votes, published %d", c.ContestID, s.SelectionID, s.Votes, ps.Tally)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("results have no selections")
	}

	// A voter finds a ballot by its tracking code.
	var sb record.SubmittedBallot
	if err := json.Unmarshal(first, &sb); err != nil {
		t.Fatal(err)
	}
	resp, body = f.do(request{method: "GET", path: "/api/elections/" + itoa(id) + "/ballots/" + strings.ToLower(sb.Code.String())})
	var bs election.BallotStatus
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &bs) != nil || bs.BallotID != sb.ObjectID || bs.Status != "counted" {
		t.Fatalf("ballot lookup: %d %s", resp.StatusCode, body)
	}
	f.wantError(request{method: "GET", path: "/api/elections/" + itoa(id) + "/ballots/ABCDEF"}, http.StatusNotFound, "no ballot")

	// The record downloads as an archive holding the published tally's values.
	root := f.downloadRecord(id)
	exported := mustPlaintext(t, filepath.Join(root, record.TallyFile))
	for _, c := range published.Contests {
		for _, s := range c.Selections {
			ec, _ := exported.Contests.Get(c.ObjectID)
			es, _ := ec.Selections.Get(s.ObjectID)
			if es.Tally != s.Tally || !es.Value.Equal(s.Value) {
				t.Errorf("exported %s/%s: %d, published %d", c.ObjectID, s.ObjectID, es.Tally, s.Tally)
			}
		}
	}
	resp, body = f.do(request{method: "DELETE", path: "/api/elections/" + itoa(id) + "/secrets"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"erased":0`) {
		t.Fatalf("erase after combine: %d %s (combine already erased them)", resp.StatusCode, body)
	}
}

// downloadRecord downloads an election's record archive and returns the
// record folder it extracts to.
func (f *fixture) downloadRecord(electionID int64) string {
	f.t.Helper()
	resp, body := f.do(request{method: "GET", path: "/api/elections/" + itoa(electionID) + "/record"})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/gzip" {
		f.t.Fatalf("record: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	dir := f.t.TempDir()
	if err := archive.Extract(bytes.NewReader(body), dir, 1<<30); err != nil {
		f.t.Fatal(err)
	}
	root, err := archive.FindRecord(dir)
	if err != nil {
		f.t.Fatal(err)
	}
	return root
}

func mustMap(t *testing.T, raw []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustPlaintext(t *testing.T, path string) *record.PlaintextTally {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p record.PlaintextTally
	if err := record.Decode(f, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
