package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/eg/record"
)

// electionTraffic takes the minimal sample election through the whole
// pipeline over HTTP, with the errors each election route answers on the
// way. One guardian decrypts offline and uploads its shares.
func electionTraffic(t *testing.T, f *fixture, pub, priv string) {
	const unknownElection = "/api/elections/999999"
	jsonReq := func(path, body string) request {
		return request{method: "POST", path: path, contentType: "application/json", body: jsonBody(body)}
	}

	// Import: the wrong media type, an archive that is not one, then the record.
	f.wantError(request{method: "POST", path: "/api/elections/import", contentType: "text/plain", body: jsonBody("x")},
		http.StatusUnsupportedMediaType, "application/gzip")
	f.wantError(request{method: "POST", path: "/api/elections/import", contentType: "application/gzip", body: jsonBody("not gzip")},
		http.StatusBadRequest, "")
	id := f.importFixture(pub)
	election := "/api/elections/" + itoa(id)
	idBody := `{"election_id":` + itoa(id) + `}`

	for _, path := range []string{"/api/elections", election} {
		if resp, body := f.do(request{method: "GET", path: path}); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	f.wantError(request{method: "POST", path: "/api/elections/import", auth: "Bearer " + nonAdminToken}, http.StatusForbidden, "admin")
	f.wantError(request{method: "GET", path: "/api/elections", auth: "-"}, http.StatusUnauthorized, "Bearer")
	f.wantError(request{method: "GET", path: unknownElection}, http.StatusNotFound, "999999")
	f.wantError(request{method: "GET", path: "/api/elections/abc"}, http.StatusBadRequest, `"abc"`)

	// Ballots: an upload with a stored ballot and a broken line, and lookups.
	ballots, err := os.ReadDir(filepath.Join(pub, record.SubmittedBallotsDir))
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(pub, record.SubmittedBallotsDir, ballots[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, first); err != nil {
		t.Fatal(err)
	}
	resp, body := f.do(request{method: "POST", path: election + "/ballots", contentType: "application/x-ndjson",
		body: jsonBody(compact.String() + "\n{not json\n")})
	var rep api.IngestResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &rep) != nil || rep.AlreadyStored != 1 || rep.Rejected != 1 || rep.Success {
		t.Fatalf("ballot upload: %d %s", resp.StatusCode, body)
	}
	f.wantError(request{method: "POST", path: election + "/ballots", contentType: "application/json", body: jsonBody("{}")},
		http.StatusUnsupportedMediaType, "application/x-ndjson")
	f.wantError(request{method: "POST", path: unknownElection + "/ballots", contentType: "application/x-ndjson", body: jsonBody(compact.String())},
		http.StatusNotFound, "999999")
	var sb record.SubmittedBallot
	if err := json.Unmarshal(first, &sb); err != nil {
		t.Fatal(err)
	}
	code := election + "/ballots/" + strings.ToLower(sb.Code.String())
	if resp, body := f.do(request{method: "GET", path: code}); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"received"`) {
		t.Fatalf("GET %s: %d %s", code, resp.StatusCode, body)
	}
	f.wantError(request{method: "GET", path: election + "/ballots/ABCDEF"}, http.StatusNotFound, "no ballot")
	f.wantError(request{method: "GET", path: election + "/ballots/xyz"}, http.StatusBadRequest, "not hexadecimal")

	// What needs a tally first.
	f.wantError(request{method: "GET", path: election + "/results"}, http.StatusConflict, "is OPEN")
	f.wantError(jsonReq("/api/create-decryption-queue", decryptionBody(t, id, "1", guardianRecord(t, priv, "1"))), http.StatusConflict, "is OPEN")
	f.wantError(jsonReq("/api/create-combine-queue", idBody), http.StatusConflict, "is OPEN")
	f.wantError(jsonReq("/api/create-tally-queue", `{}`), http.StatusBadRequest, `"election_id" is required`)
	f.wantError(request{method: "POST", path: "/api/create-tally-queue", contentType: "text/plain", body: jsonBody(idBody)},
		http.StatusUnsupportedMediaType, "application/json")
	f.wantError(jsonReq("/api/create-tally-queue", `{"election_id":999999}`), http.StatusNotFound, "999999")

	tally := f.queue("/api/create-tally-queue", idBody, http.StatusAccepted)
	f.queue("/api/create-tally-queue", idBody, http.StatusOK)
	f.wantError(request{method: "POST", path: election + "/ballots", contentType: "application/x-ndjson", body: jsonBody(compact.String())},
		http.StatusConflict, "only while it is OPEN")
	if p := f.waitForJob(tally.JobID, func(jobProgress) {}); p.Status != "COMPLETED" {
		t.Fatalf("tally ended %+v", p)
	}

	// Guardians 1 and 2 decrypt on the server while guardian 3 decrypts
	// offline from the downloaded record and uploads its shares.
	rec2 := guardianRecord(t, priv, "2")
	f.wantError(jsonReq("/api/create-decryption-queue", decryptionBody(t, id, "1", rec2)), http.StatusBadRequest, `guardian "2"'s, not guardian "1"'s`)
	f.wantError(jsonReq("/api/create-decryption-queue", decryptionBody(t, id, "9", withGuardianID(t, rec2, "9"))), http.StatusNotFound, `no guardian "9"`)
	var decryptions []api.QueueResponse
	for _, g := range []string{"1", "2"} {
		decryptions = append(decryptions, f.queue("/api/create-decryption-queue", decryptionBody(t, id, g, guardianRecord(t, priv, g)), http.StatusAccepted))
	}
	f.queue("/api/create-decryption-queue", decryptionBody(t, id, "1", guardianRecord(t, priv, "1")), http.StatusOK)

	shares := offlineSharesOverHTTP(t, f, id, filepath.Join(priv, "private_guardians", "private_guardian_3.json"), []string{"4", "5"})
	sharesPath := election + "/guardians/3/shares"
	f.wantError(request{method: "POST", path: sharesPath, contentType: "text/plain", body: bytes.NewReader(shares)},
		http.StatusUnsupportedMediaType, "application/json")
	f.wantError(jsonReq(sharesPath, strings.Replace(string(shares), `"guardian_id": "3"`, `"guardian_id": "2"`, 1)),
		http.StatusBadRequest, `guardian "2"'s shares`)
	if resp, body := f.do(jsonReq(sharesPath, string(shares))); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", sharesPath, resp.StatusCode, body)
	}
	f.wantError(jsonReq(sharesPath, string(shares)), http.StatusConflict, "already decrypted")
	for _, q := range decryptions {
		if p := f.waitForJob(q.JobID, func(jobProgress) {}); p.Status != "COMPLETED" {
			t.Fatalf("decryption ended %+v", p)
		}
	}

	combine := f.queue("/api/create-combine-queue", idBody, http.StatusAccepted)
	f.queue("/api/create-combine-queue", idBody, http.StatusOK)
	if p := f.waitForJob(combine.JobID, func(jobProgress) {}); p.Status != "COMPLETED" {
		t.Fatalf("combine ended %+v", p)
	}

	// The decrypted election.
	for _, path := range []string{election, election + "/results", election + "/record", code, "/api/jobs?electionId=" + itoa(id)} {
		if resp, body := f.do(request{method: "GET", path: path}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %.300s", path, resp.StatusCode, body)
		}
	}
	f.wantError(request{method: "GET", path: unknownElection + "/results"}, http.StatusNotFound, "999999")
	f.wantError(request{method: "GET", path: unknownElection + "/record"}, http.StatusNotFound, "999999")
	f.wantError(request{method: "GET", path: "/api/elections/0/record"}, http.StatusBadRequest, `"0"`)
	if resp, body := f.do(request{method: "DELETE", path: election + "/secrets"}); resp.StatusCode != http.StatusOK {
		t.Errorf("DELETE %s/secrets: %d %s", election, resp.StatusCode, body)
	}
	f.wantError(request{method: "DELETE", path: unknownElection + "/secrets"}, http.StatusNotFound, "999999")
}

// offlineSharesOverHTTP downloads the election's record and computes a
// guardian's shares from it, as `tallyq guardian decrypt` does on the
// guardian's machine; it returns the shares file.
func offlineSharesOverHTTP(t *testing.T, f *fixture, electionID int64, privatePath string, missing []string) []byte {
	t.Helper()
	root := f.downloadRecord(electionID)
	folder := record.OpenFolder(root)
	d, err := folder.Decryptor(0)
	if err != nil {
		t.Fatal(err)
	}
	tally, err := folder.EncryptedTally()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.Open(privatePath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	p, err := record.DecodePrivateGuardian(raw)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := record.ComputeGuardianShares(context.Background(), d, p, tally, folder.SubmittedBallots(), missing)
	if err != nil {
		t.Fatal(err)
	}
	data, err := record.Marshal(gs)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// withGuardianID is a private record claiming another guardian id.
func withGuardianID(t *testing.T, rec json.RawMessage, id string) json.RawMessage {
	t.Helper()
	m := mustMap(t, rec)
	m["guardian_id"] = id
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
