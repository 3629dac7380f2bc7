package api_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/fixtures"
)

// badCase is one malformed request: it must be answered 4xx (want, when
// set, exactly) with the JSON error whose message contains says.
type badCase struct {
	route string // the chi pattern, to show that every route is covered
	name  string
	req   request
	want  int
	says  string
}

// More than two hundred malformed requests across every route of the API
// (bad JSON, wrong types, huge and negative numbers, unknown fields,
// oversized bodies, wrong content types, out-of-group elements, wrong-length
// hex, tampered proofs and records, unknown ids, bad credentials) are each
// answered 4xx with a message naming the problem, never 5xx; the server
// serves on, no error echoes a guardian's secret key, and the database is
// the same before and after, table by table.
func TestBadRequestsChangeNothing(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	rf := newRoleFixture(t)
	tally := rf.queue("/api/create-tally-queue", fmt.Sprintf(`{"election_id":%d}`, rf.election), http.StatusAccepted)
	if p := rf.waitForJob(tally.JobID, func(jobProgress) {}); p.Status != "COMPLETED" {
		t.Fatalf("tally ended %+v", p)
	}
	shares := offlineSharesOverHTTP(t, rf.fixture, rf.election, filepath.Join(priv, "private_guardians", "private_guardian_3.json"), []string{"4", "5"})
	rf.stopWorkers()

	b := &badCases{rf: rf, pub: pub, priv: priv, shares: shares}
	cases := b.all(t)
	if len(cases) < 200 {
		t.Fatalf("only %d cases; the table needs at least 200", len(cases))
	}
	secret := secretKeyHex(t, priv, rf.guardian)
	before := snapshotTables(t, rf.pool)
	statuses := map[int]int{}
	for i, c := range cases {
		resp, body := rf.do(c.req)
		statuses[resp.StatusCode]++
		var e api.ErrorBody
		ok := resp.StatusCode >= 400 && resp.StatusCode < 500 && (c.want == 0 || resp.StatusCode == c.want) &&
			json.Unmarshal(body, &e) == nil && e.Error.Code != "" && strings.Contains(e.Error.Message, c.says)
		if !ok {
			t.Errorf("%s %s (%s): %d %.300s; want %s with a message containing %q", c.req.method, c.req.path, c.name,
				resp.StatusCode, body, wantStatusText(c.want), c.says)
		}
		if strings.Contains(strings.ToUpper(string(body)), secret) {
			t.Errorf("%s (%s): the answer holds guardian %s's secret key", c.route, c.name, rf.guardian)
		}
		if i%50 == 49 {
			if resp, _ := rf.do(request{method: "GET", path: "/healthz", auth: "-"}); resp.StatusCode != http.StatusOK {
				t.Fatalf("after %d bad requests, /healthz answers %d", i+1, resp.StatusCode)
			}
		}
	}
	if resp, body := rf.do(request{method: "GET", path: "/api/elections/" + itoa(rf.election)}); resp.StatusCode != http.StatusOK {
		t.Errorf("after the bad requests, the election answers %d %s", resp.StatusCode, body)
	}
	after := snapshotTables(t, rf.pool)
	for table, sum := range before {
		if after[table] != sum {
			t.Errorf("table %s changed: %s before, %s after", table, sum, after[table])
		}
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
	}
	for route := range routeAccess {
		if !strings.HasPrefix(route, "GET /riverui") && !covered[route] {
			t.Errorf("no bad request for %s", route)
		}
	}
	t.Logf("%d bad requests over %d routes, answered %v; %d tables unchanged", len(cases), len(covered), statuses, len(before))
}

func wantStatusText(want int) string {
	if want == 0 {
		return "4xx"
	}
	return strconv.Itoa(want)
}

// snapshotTables returns, for every table of the test's schema but River's
// leadership and queue bookkeeping, its row count and a digest of its rows.
func snapshotTables(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
			AND table_name NOT IN ('river_leader', 'river_client', 'river_client_queue', 'river_queue')`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, table := range tables {
		var count int64
		var digest string
		q := fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '') FROM %s t`,
			pgx.Identifier{table}.Sanitize())
		if err := pool.QueryRow(ctx, q).Scan(&count, &digest); err != nil {
			t.Fatal(err)
		}
		out[table] = fmt.Sprintf("%d rows %s", count, digest)
	}
	if len(out) < 10 {
		t.Fatalf("only %d tables to compare: %v", len(out), tables)
	}
	return out
}

// secretKeyHex is a guardian's secret key as its private record writes it.
func secretKeyHex(t *testing.T, priv, guardian string) string {
	t.Helper()
	rec := mustMap(t, guardianRecord(t, priv, guardian))
	key := jsonAt(rec, "election_keys", "key_pair", "secret_key", "data").(string)
	return strings.ToUpper(key)
}

// badCases builds the table.
type badCases struct {
	rf     *roleFixture
	pub    string
	priv   string
	shares []byte
	cases  []badCase
}

func (b *badCases) add(route, name string, req request, want int, says string) {
	if req.auth == "" && strings.HasPrefix(req.path, "/api/session") {
		req.auth = "-"
	}
	b.cases = append(b.cases, badCase{route: route, name: name, req: req, want: want, says: says})
}

func (b *badCases) all(t *testing.T) []badCase {
	e := itoa(b.rf.election)
	job := b.rf.job
	jsonRoutes := []struct{ route, path string }{
		{"POST /api/create-tally-queue", "/api/create-tally-queue"},
		{"POST /api/create-combine-queue", "/api/create-combine-queue"},
		{"POST /api/create-decryption-queue", "/api/create-decryption-queue"},
		{"POST /api/jobs/{jobId}/cancel", "/api/jobs/" + job + "/cancel"},
		{"POST /api/jobs/{jobId}/retry", "/api/jobs/" + job + "/retry"},
		{"POST /api/tokens/", "/api/tokens"},
		{"POST /api/session", "/api/session"},
	}
	for _, r := range jsonRoutes {
		b.malformedJSON(r.route, r.path)
	}
	for _, r := range jsonRoutes[:3] {
		b.electionIDField(t, r.route, r.path)
	}
	b.decryption(t)
	b.tokens(e)
	b.jobActions(job)
	b.pathIDs(job, e)
	b.queries()
	b.imports(t)
	b.sharesFiles(t, e)
	b.ballots(e)
	b.credentials(job)
	return b.cases
}

// jsonReq is a POST of body as application/json.
func jsonReq(path, body string) request {
	return request{method: "POST", path: path, contentType: "application/json", body: jsonBody(body)}
}

// malformedJSON: bodies that are not one JSON object of the route's fields.
func (b *badCases) malformedJSON(route, path string) {
	deep := strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) // deeper than encoding/json's limit, within the body's
	for _, c := range []struct{ name, body, says string }{
		{"truncated JSON", `{`, "malformed JSON"},
		{"a JSON array", `[]`, "must be a JSON object"},
		{"a JSON string", `"text"`, "must be a JSON object"},
		{"a JSON number", `42`, "must be a JSON object"},
		{"two JSON values", `{} {}`, "single JSON object"},
		{"an unknown field", `{"bogus_field":1}`, `unknown field "bogus_field"`},
		{"a trailing comma", `{"election_id":1,}`, "malformed JSON"},
		{"a single-quoted string", `{'election_id':1}`, "malformed JSON"},
		{"a comment", `{/* c */}`, "malformed JSON"},
		{"nesting 20,000 deep", deep, "exceeded max depth"},
		{"garbage after the object", `{}garbage`, "single JSON object"},
	} {
		b.add(route, c.name, jsonReq(path, c.body), http.StatusBadRequest, c.says)
	}
	limit := api.DefaultMaxJSONBody
	if strings.HasSuffix(path, "decryption-queue") {
		limit = 1 << 20
	}
	big := `{"x":"` + strings.Repeat("a", limit) + `"}`
	b.add(route, "a body over the limit", jsonReq(path, big), http.StatusRequestEntityTooLarge, "larger than")
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "json"} {
		req := jsonReq(path, `{"election_id":1}`)
		req.contentType = ct
		b.add(route, "content type "+ct, req, http.StatusUnsupportedMediaType, "Content-Type")
	}
	req := jsonReq(path, `{"election_id":1}`)
	req.contentType = ""
	b.add(route, "no content type", req, http.StatusUnsupportedMediaType, "Content-Type")
}

// electionIDField: election_id of every type and size but a good one.
func (b *badCases) electionIDField(t *testing.T, route, path string) {
	extra := ""
	if strings.HasSuffix(path, "decryption-queue") {
		extra = `,"guardian_id":"1","guardian_record":` + string(guardianRecord(t, b.priv, "1"))
	}
	for _, c := range []struct {
		value, says string
		want        int
	}{
		{`"1"`, `"election_id" must be a JSON int64, not string`, 400},
		{`true`, `"election_id" must be a JSON int64, not bool`, 400},
		{`1.5`, `"election_id" must be a JSON int64`, 400},
		{`[]`, `"election_id" must be a JSON int64, not array`, 400},
		{`{}`, `"election_id" must be a JSON int64, not object`, 400},
		{`-1`, "must be a positive integer, not -1", 400},
		{`0`, "must be a positive integer, not 0", 400},
		{`1e400`, `"election_id" must be a JSON int64`, 400},
		{`99999999999999999999`, `"election_id" must be a JSON int64`, 400},
		{`9223372036854775808`, `"election_id" must be a JSON int64`, 400},
		{`null`, `"election_id" is required`, 400},
		{`999999`, "999999", 404},
	} {
		b.add(route, "election_id "+c.value, jsonReq(path, `{"election_id":`+c.value+extra+`}`), c.want, c.says)
	}
	missing := `{}`
	if extra != "" {
		missing = `{` + extra[1:] + `}`
	}
	b.add(route, "no election_id", jsonReq(path, missing), http.StatusBadRequest, `"election_id" is required`)
}

// decryption: a guardian's request with wrong fields and tampered records.
func (b *badCases) decryption(t *testing.T) {
	const route, path = "POST /api/create-decryption-queue", "/api/create-decryption-queue"
	e := b.rf.election
	good := guardianRecord(t, b.priv, "1")
	body := func(guardian string, record any) string {
		raw, err := json.Marshal(map[string]any{"election_id": e, "guardian_id": guardian, "guardian_record": record})
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	tamper := func(edit func(m map[string]any)) map[string]any {
		m := mustMap(t, good)
		edit(m)
		return m
	}
	setKey := func(key string) map[string]any {
		return tamper(func(m map[string]any) {
			jsonAt(m, "election_keys", "key_pair", "secret_key").(map[string]any)["data"] = key
		})
	}
	for _, c := range []struct {
		name, body, says string
		want             int
	}{
		{"guardian_id a number", fmt.Sprintf(`{"election_id":%d,"guardian_id":5,"guardian_record":{}}`, e), `"guardian_id" must be a JSON string`, 400},
		{"no guardian_id", body("", json.RawMessage(good)), `"guardian_id" is required`, 400},
		{"no guardian_record", fmt.Sprintf(`{"election_id":%d,"guardian_id":"1"}`, e), `"guardian_record" is required`, 400},
		{"guardian_record a string", body("1", "secret"), `"guardian_record" is required`, 400},
		{"guardian_record an array", body("1", []int{1}), `"guardian_record" is required`, 400},
		{"an empty guardian_record", body("1", map[string]any{}), "guardian", 400},
		{"an unknown guardian", body("9", withGuardianID(t, good, "9")), `no guardian "9"`, 404},
		{"a guardian id of 10,000 bytes", body(strings.Repeat("g", 10_000), json.RawMessage(good)), `no guardian "ggg`, 404},
		{"another guardian's record", body("1", json.RawMessage(guardianRecord(t, b.priv, "2"))), `guardian "2"'s, not guardian "1"'s`, 400},
		{"a secret key above q", body("1", setKey(strings.Repeat("F", 64))), "secret", 400},
		{"a secret key of odd length", body("1", setKey("ABC")), "does not match", 400},
		{"a secret key not in hex", body("1", setKey("ZZ")), "non-hex character", 400},
		{"a secret key of 10,000 hex digits", body("1", setKey(strings.Repeat("A", 10_000))), "longer than any element", 400},
		{"a secret key with 0x", body("1", setKey("0x12")), "non-hex character", 400},
		{"a secret key as a number", body("1", tamper(func(m map[string]any) {
			jsonAt(m, "election_keys", "key_pair", "secret_key").(map[string]any)["data"] = 5
		})), "the JSON value is not a string", 400},
		{"a secret key that is not the guardian's", body("1", setKey("E529")), "does not match", 400},
		{"a public key out of the group", body("1", tamper(func(m map[string]any) {
			jsonAt(m, "election_keys", "key_pair", "public_key").(map[string]any)["data"] = "00"
		})), "the public key in guardian_record", 400},
		{"no election keys", body("1", tamper(func(m map[string]any) { delete(m, "election_keys") })), "does not match", 400},
		{"a backup of the wrong type", body("1", tamper(func(m map[string]any) { m["backups_to_share"] = "x" })), "keyed by id", 400},
	} {
		b.add(route, c.name, jsonReq(path, c.body), c.want, c.says)
	}
}

// tokens: token requests that cannot be granted.
func (b *badCases) tokens(e string) {
	const route, path = "POST /api/tokens/", "/api/tokens"
	for _, c := range []struct{ name, body, says string }{
		{"an unknown role", `{"name":"x","role":"root"}`, `role "root" is not one of`},
		{"a role of the wrong type", `{"name":"x","role":5}`, `"role" must be a JSON string, not number`},
		{"no role", `{"name":"x"}`, `role "" is not one of`},
		{"no name", `{"role":"viewer"}`, "needs a name"},
		{"a blank name", `{"name":"   ","role":"viewer"}`, "needs a name"},
		{"a name of 101 bytes", `{"name":"` + strings.Repeat("n", 101) + `","role":"viewer"}`, "at most 100 bytes"},
		{"a guardian without an election", `{"name":"x","role":"guardian","guardian_id":"1"}`, "must name its election"},
		{"a guardian without a guardian id", `{"name":"x","role":"guardian","election_id":` + e + `}`, "must name its election"},
		{"a guardian of a negative election", `{"name":"x","role":"guardian","election_id":-4,"guardian_id":"1"}`, "positive id"},
		{"an unknown guardian", `{"name":"x","role":"guardian","election_id":` + e + `,"guardian_id":"9"}`, `has no guardian "9"`},
		{"an unknown election", `{"name":"x","role":"guardian","election_id":999999,"guardian_id":"1"}`, "election 999999"},
		{"a viewer bound to an election", `{"name":"x","role":"viewer","election_id":` + e + `}`, "leave them out"},
		{"an admin bound to a guardian", `{"name":"x","role":"admin","guardian_id":"1"}`, "leave them out"},
	} {
		b.add(route, c.name, jsonReq(path, c.body), http.StatusBadRequest, c.says)
	}
	for _, c := range []struct{ name, body, says string }{
		{"a token of the wrong type", `{"token":5}`, `"token" must be a JSON string`},
		{"an empty token", `{"token":""}`, `{"token": "<bearer token>"}`},
		{"a wrong token", `{"token":"tqt_` + strings.Repeat("A", 43) + `"}`, "not valid"},
	} {
		b.add("POST /api/session", c.name, jsonReq("/api/session", c.body), 0, c.says)
	}
}

// jobActions: cancel and retry reasons, and the state of a finished job.
func (b *badCases) jobActions(job string) {
	for _, action := range []string{"cancel", "retry"} {
		route, path := "POST /api/jobs/{jobId}/"+action, "/api/jobs/"+job+"/"+action
		b.add(route, "a reason of the wrong type", jsonReq(path, `{"reason":5}`), 400, `"reason" must be a JSON string`)
		b.add(route, "a reason of 1001 bytes", jsonReq(path, `{"reason":"`+strings.Repeat("r", 1001)+`"}`), 400, "the limit is 1000")
		b.add(route, "a finished job", jsonReq(path, `{"reason":"test"}`), http.StatusConflict, "COMPLETED")
	}
}

// pathIDs: every route's ids, malformed and unknown.
func (b *badCases) pathIDs(job, e string) {
	jobRoutes := map[string]string{
		"GET /api/jobs/{jobId}/status": "GET", "GET /api/jobs/{jobId}/events": "GET",
		"POST /api/jobs/{jobId}/cancel": "POST", "POST /api/jobs/{jobId}/retry": "POST",
	}
	for route, method := range jobRoutes {
		for _, id := range []string{"12345", strings.ReplaceAll(job, "-", ""), job + "0", "%20", "not-a-uuid-at-all-not-a-uuid-at-all", "{" + job + "}"} {
			path := strings.Replace(strings.TrimPrefix(route, method+" "), "{jobId}", id, 1)
			b.add(route, "job id "+id, request{method: method, path: path}, http.StatusBadRequest, "is not a UUID")
		}
		path := strings.Replace(strings.TrimPrefix(route, method+" "), "{jobId}", randomID(), 1)
		b.add(route, "an unknown job", request{method: method, path: path}, http.StatusNotFound, "job not found")
	}
	electionRoutes := map[string]request{
		"GET /api/elections/{electionId}":                                {method: "GET"},
		"GET /api/elections/{electionId}/results":                        {method: "GET"},
		"GET /api/elections/{electionId}/record":                         {method: "GET"},
		"GET /api/elections/{electionId}/ballots/{trackingCode}":         {method: "GET"},
		"POST /api/elections/{electionId}/ballots":                       {method: "POST", contentType: "application/x-ndjson"},
		"POST /api/elections/{electionId}/guardians/{guardianId}/shares": {method: "POST", contentType: "application/json"},
		"DELETE /api/elections/{electionId}/secrets":                     {method: "DELETE"},
	}
	for route, base := range electionRoutes {
		pattern := strings.TrimPrefix(route, base.method+" ")
		for _, id := range []string{"0", "-1", "abc", "1.5", "99999999999999999999", "1e3", "0x10"} {
			req := base
			req.path = strings.NewReplacer("{electionId}", id, "{trackingCode}", "code", "{guardianId}", "3").Replace(pattern)
			req.body = jsonBody("{}")
			b.add(route, "election id "+id, req, http.StatusBadRequest, "is not a positive integer")
		}
		req := base
		req.path = strings.NewReplacer("{electionId}", "999999", "{trackingCode}", "ABCDEF0123", "{guardianId}", "3").Replace(pattern)
		req.body = bytes.NewReader(b.shares)
		b.add(route, "an unknown election", req, http.StatusNotFound, "999999")
	}
	b.add("GET /api/elections/{electionId}/ballots/{trackingCode}", "a tracking code not in hex",
		request{method: "GET", path: "/api/elections/" + e + "/ballots/no-such-code"}, http.StatusBadRequest, "not hexadecimal")
	b.add("GET /api/elections/{electionId}/ballots/{trackingCode}", "an unknown tracking code",
		request{method: "GET", path: "/api/elections/" + e + "/ballots/ABCDEF0123"}, http.StatusNotFound, "ABCDEF0123")
	b.add("GET /api/elections/{electionId}/ballots/{trackingCode}", "a tracking code of 5,000 bytes",
		request{method: "GET", path: "/api/elections/" + e + "/ballots/" + strings.Repeat("c", 5000)}, http.StatusBadRequest, "not hexadecimal")
	b.add("GET /api/elections/{electionId}/results", "results before the decryption",
		request{method: "GET", path: "/api/elections/" + e + "/results"}, http.StatusConflict, "results exist once combine has completed")
	b.add("DELETE /api/elections/{electionId}/secrets", "a body over the limit",
		request{method: "DELETE", path: "/api/elections/" + e + "/secrets", contentType: "application/json",
			body: jsonBody(strings.Repeat(" ", api.DefaultMaxJSONBody+1))}, http.StatusRequestEntityTooLarge, "larger than")
	for _, id := range []string{"0", "-3", "abc", "99999999999999999999", "1.0"} {
		b.add("DELETE /api/tokens/{tokenId}", "token id "+id, request{method: "DELETE", path: "/api/tokens/" + id}, http.StatusBadRequest, "is not a positive integer")
	}
	b.add("DELETE /api/tokens/{tokenId}", "an unknown token", request{method: "DELETE", path: "/api/tokens/999999"}, http.StatusNotFound, "no token has id 999999")
}

// queries: the listings' query strings.
func (b *badCases) queries() {
	for _, c := range []struct{ query, says string }{
		{"limit=0", "limit"}, {"limit=501", "limit"}, {"limit=-1", "limit"}, {"limit=abc", "limit"},
		{"limit=1e2", "limit"}, {"limit=99999999999999999999", "limit"},
		{"status=bogus", `"status" must be one of`}, {"status=queued", `"status" must be one of`},
		{"electionId=0", "electionId"}, {"electionId=abc", "electionId"}, {"electionId=-5", "electionId"},
		{"after=garbage", "after"}, {"after=" + strings.Repeat("A", 500), "after"},
		{"sort=asc", "sort"}, {"limit=1&limit=2", "limit"}, {"%zz", "malformed query string"},
	} {
		b.add("GET /api/jobs/", "query "+c.query, request{method: "GET", path: "/api/jobs?" + c.query}, http.StatusBadRequest, c.says)
	}
	for _, c := range []struct{ query, says string }{
		{"limit=0", "limit"}, {"limit=501", "limit"}, {"limit=x", "limit"}, {"before=-1", "before"},
		{"before=abc", "before"}, {"electionId=x", "electionId"}, {"who=me", "who"}, {"before=1&before=2", "before"},
	} {
		b.add("GET /api/audit", "query "+c.query, request{method: "GET", path: "/api/audit?" + c.query}, http.StatusBadRequest, c.says)
	}
}

// imports: archives that are not election records, or are tampered ones.
func (b *badCases) imports(t *testing.T) {
	const route, path = "POST /api/elections/import", "/api/elections/import"
	gz := func(name string, body []byte, says string) {
		b.add(route, name, request{method: "POST", path: path, contentType: "application/gzip", body: bytes.NewReader(body)}, http.StatusBadRequest, says)
	}
	gz("not gzip", []byte("hello, world"), "not a .tar.gz or .zip")
	gz("an empty body", nil, "first bytes")
	gz("gzip of text", gzipBytes(t, []byte("not a tar")), "tar")
	gz("a tar without a record", tarGz(t, map[string]string{"readme.txt": "hi"}), "no context.json")
	gz("a tar whose entry escapes", tarGz(t, map[string]string{"../escape.json": "{}"}), "outside the archive")
	b.add(route, "zip garbage", request{method: "POST", path: path, contentType: "application/zip", body: jsonBody("PK\x03\x04garbage")}, http.StatusBadRequest, "not a valid zip")
	b.add(route, "content type text/plain", request{method: "POST", path: path, contentType: "text/plain", body: jsonBody("x")}, http.StatusUnsupportedMediaType, "Content-Type")
	b.add(route, "content type application/json", request{method: "POST", path: path, contentType: "application/json", body: jsonBody("{}")}, http.StatusUnsupportedMediaType, "Content-Type")
	edits := []struct {
		name, file, says string
		edit             func(m map[string]any)
	}{
		{"a context with another joint key", "context.json", "elgamal_public_key", func(m map[string]any) {
			m["elgamal_public_key"] = map[string]any{"data": "02"}
		}},
		{"a context with quorum 0 (its base hash no longer follows)", "context.json", "crypto_base_hash", func(m map[string]any) { m["quorum"] = 0 }},
		{"a context with more guardians than the record", "context.json", "crypto_base_hash", func(m map[string]any) { m["number_of_guardians"] = 9 }},
		{"a guardian's tampered coefficient proof", filepath.Join("guardians", "guardian_1.json"), "schnorr proof", func(m map[string]any) {
			proofs := m["election_proofs"].([]any)
			p := proofs[0].(map[string]any)
			p["response"] = map[string]any{"data": "01"}
		}},
		{"constants of another group", "constants.json", "constants.json", func(m map[string]any) {
			m["large_prime"] = map[string]any{"data": "17"}
		}},
		{"a manifest of the wrong type", "manifest.json", "manifest.json", func(m map[string]any) { m["contests"] = "none" }},
	}
	for _, e := range edits {
		gz(e.name, b.editedRecord(t, e.file, e.edit), e.says)
	}
	gz("a record without its manifest", b.editedRecord(t, "manifest.json", nil), "manifest")
}

// editedRecord is the sample record as .tar.gz with one JSON file edited,
// or left out when edit is nil.
func (b *badCases) editedRecord(t *testing.T, file string, edit func(m map[string]any)) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "record")
	if err := os.CopyFS(dir, os.DirFS(b.pub)); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, file)
	if edit == nil {
		if err := os.Remove(target); err != nil {
			t.Fatal(err)
		}
		return recordArchive(t, dir)
	}
	raw, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	// UseNumber: constants.json holds numbers far beyond float64.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return recordArchive(t, dir)
}

// sharesFiles: an offline guardian's valid shares file, tampered with.
func (b *badCases) sharesFiles(t *testing.T, e string) {
	const route = "POST /api/elections/{electionId}/guardians/{guardianId}/shares"
	path := "/api/elections/" + e + "/guardians/3/shares"
	share := []any{"tally", "contests", 0, "selections", 0, "share"}
	at := func(keys ...any) []any { return append(slices.Clone(share), keys...) }
	compensated := []any{"tally", "contests", 0, "selections", 0, "compensated_shares", 0}
	hex := func(digits string) map[string]any { return map[string]any{"data": digits} }
	for _, c := range []struct {
		name, says string
		where      []any
		value      any
	}{
		{"a format of another file", "format", []any{"format"}, "something-else"},
		{"version 2", "version", []any{"version"}, 2},
		{"another guardian's file", `guardian "2"'s shares`, []any{"guardian_id"}, "2"},
		{"another election's base hash", "extended base hash", []any{"crypto_extended_base_hash"}, hex("AB")},
		{"an unknown missing guardian", `missing guardian "9"`, []any{"missing_guardian_ids"}, []any{"9"}},
		{"another tally", "another-tally", []any{"tally", "object_id"}, "another-tally"},
		{"a share of 0", "chaum-pedersen proof", at("share"), hex("00")},
		{"a share above p", "not an element mod p", at("share"), hex(strings.Repeat("F", 1030))},
		{"a share not in hex", "non-hex character", at("share"), hex("XYZ")},
		{"a share of odd length", "chaum-pedersen proof", at("share"), hex("ABC")},
		{"a share of the wrong type", `element is a JSON number; want {"data": "<hex>"}`, at("share"), 12},
		{"a tampered challenge", "share proof: eg: invalid chaum-pedersen proof", at("proof", "challenge"), hex("01")},
		{"a tampered response", "share proof: eg: invalid chaum-pedersen proof", at("proof", "response"), hex("02")},
		{"a tampered pad", "share proof: eg: invalid chaum-pedersen proof", at("proof", "pad"), hex("03")},
		{"a tampered commitment", "share proof: eg: invalid chaum-pedersen proof", at("proof", "data"), hex("04")},
		{"no proof", "no proof", at("proof"), nil},
		{"a share of another selection", "another-selection", at("object_id"), "another-selection"},
		{"a tampered compensated share", `compensated share for "4": proof`, append(slices.Clone(compensated), "share"), hex("05")},
		{"a tampered recovery key", "recovery key", append(slices.Clone(compensated), "recovery_key"), hex("06")},
		{"a tampered compensated proof", `compensated share for "4": proof`, append(slices.Clone(compensated), "proof", "response"), hex("07")},
		{"no selections", "lacks this selection", []any{"tally", "contests", 0, "selections"}, []any{}},
		{"no contests", "lacks this selection", []any{"tally", "contests"}, []any{}},
		{"an unknown field", `unknown field "extra"`, []any{"extra"}, 1},
	} {
		body := b.editedShares(t, c.where, c.value)
		b.add(route, c.name, jsonReq(path, string(body)), 0, c.says)
	}
	b.add(route, "truncated", jsonReq(path, string(b.shares[:len(b.shares)/2])), http.StatusBadRequest, "unexpected EOF")
	b.add(route, "a JSON array", jsonReq(path, "[]"), http.StatusBadRequest, "array")
	b.add(route, "another guardian's path", jsonReq("/api/elections/"+e+"/guardians/2/shares", string(b.shares)), http.StatusBadRequest, `guardian "3"'s shares`)
	b.add(route, "an unknown guardian's path", jsonReq("/api/elections/"+e+"/guardians/9/shares", string(b.editedShares(t, []any{"guardian_id"}, "9"))), 0, `"9"`)
	req := jsonReq(path, string(b.shares))
	req.contentType = "text/plain"
	b.add(route, "content type text/plain", req, http.StatusUnsupportedMediaType, "Content-Type")
}

// editedShares is the valid shares file with the value at where replaced.
func (b *badCases) editedShares(t *testing.T, where []any, value any) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(b.shares, &doc); err != nil {
		t.Fatal(err)
	}
	parent := jsonAt(doc, where[:len(where)-1]...)
	switch k := where[len(where)-1].(type) {
	case string:
		parent.(map[string]any)[k] = value
	case int:
		parent.([]any)[k] = value
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// ballots: uploads refused whole.
func (b *badCases) ballots(e string) {
	const route = "POST /api/elections/{electionId}/ballots"
	path := "/api/elections/" + e + "/ballots"
	nd := func(ct, body string) request {
		return request{method: "POST", path: path, contentType: ct, body: jsonBody(body)}
	}
	b.add(route, "content type application/json", nd("application/json", "{}\n"), http.StatusUnsupportedMediaType, "Content-Type")
	b.add(route, "content type text/csv", nd("text/csv", "a,b\n"), http.StatusUnsupportedMediaType, "Content-Type")
	b.add(route, "no content type", nd("", "{}\n"), http.StatusUnsupportedMediaType, "Content-Type")
	b.add(route, "an election no longer OPEN", nd("application/x-ndjson", "{}\n"), http.StatusConflict, "OPEN")
	b.add("POST /api/create-tally-queue", "a tally already done, of an unknown election",
		jsonReq("/api/create-tally-queue", `{"election_id":424242}`), http.StatusNotFound, "424242")
	b.add("POST /api/create-combine-queue", "a combine before the decryptions",
		jsonReq("/api/create-combine-queue", `{"election_id":`+e+`}`), http.StatusConflict, "must decrypt before combining")
	b.add("GET /api/elections/", "a query parameter it does not take", request{method: "GET", path: "/api/elections?state=OPEN"}, http.StatusBadRequest, `"state"`)
	b.add("GET /api/jobs/active", "a wrong method", request{method: "PUT", path: "/api/jobs/active"}, http.StatusMethodNotAllowed, "allowed")
	b.add("GET /api/tokens/", "a wrong method", request{method: "PATCH", path: "/api/tokens"}, http.StatusMethodNotAllowed, "allowed")
}

// credentials: Authorization headers that are not a valid token.
func (b *badCases) credentials(job string) {
	const route = "GET /api/jobs/{jobId}/status"
	path := "/api/jobs/" + job + "/status"
	for _, auth := range []string{"Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "bearer   ", "Token " + testToken, "Bearer: " + testToken} {
		b.add(route, "Authorization "+strconv.Quote(auth), request{method: "GET", path: path, auth: auth}, http.StatusUnauthorized, "must be `Bearer <token>`")
	}
	for _, token := range []string{"x", "tqt_" + strings.Repeat("A", 43), "tqt_short", strings.Repeat("t", 10_000), testToken + "x", testToken[1:]} {
		b.add(route, "the bearer token "+strconv.Quote(token[:min(len(token), 30)]), request{method: "GET", path: path, auth: "Bearer " + token},
			http.StatusUnauthorized, "not valid")
	}
	b.add(route, "no Authorization", request{method: "GET", path: path, auth: "-"}, http.StatusUnauthorized, "Bearer <token>")
}

// jsonAt walks a decoded JSON document by object keys and array indexes.
func jsonAt(doc any, path ...any) any {
	for _, k := range path {
		switch k := k.(type) {
		case string:
			doc = doc.(map[string]any)[k]
		case int:
			doc = doc.([]any)[k]
		}
	}
	return doc
}

// gzipBytes is data gzipped.
func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarGz is a .tar.gz of the given files, names as given (unchecked).
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return gzipBytes(t, buf.Bytes())
}
