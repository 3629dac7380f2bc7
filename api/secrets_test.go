package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/internal/secretscan"
	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/internal/testmq"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/rabbitmq"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// lockedBuffer is a log sink shared by every component.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// A full pipeline at debug log level on each broker, guardians decrypting
// on the server with a canary planted in each private record: no guardian
// secret, backup or auxiliary key, in any encoding (hex in either case,
// decimal, base64, raw bytes), appears in the logs, the API's responses,
// the broker's messages (River's job rows; a firehose tap of every message
// RabbitMQ is given) or a pg_dump of the database; the canary is found where
// it was planted (the requests); and after combine no sealed secret is left.
func TestNoSecretsLeak(t *testing.T) {
	for _, broker := range []string{"river", "rabbitmq"} {
		t.Run(broker, func(t *testing.T) { noSecretsLeak(t, broker) })
	}
}

func noSecretsLeak(t *testing.T, brokerName string) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pool := testdb.New(t)
	broker, tap := leakBroker(t, brokerName, pool, logger)
	engine, err := jobs.NewEngine(pool, broker, jobs.Config{Logger: logger, SweepInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	key, err := seal.ParseKey(randomHex(t, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := election.New(pool, engine, election.Config{SecretKey: &key, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Config{Jobs: engine, Elections: svc, AdminToken: testToken, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, pool: pool, engine: engine, srv: httptest.NewServer(h)}
	t.Cleanup(f.srv.Close)
	f.runWorkers()

	scan, canary := secretsOf(t, priv)
	var requests, responses bytes.Buffer
	record := func(body []byte) { responses.Write(body); responses.WriteByte('\n') }

	id := f.importFixture(pub)
	idBody := `{"election_id": ` + itoa(id) + `}`
	tally := f.queue("/api/create-tally-queue", idBody, http.StatusAccepted)
	f.waitForJob(tally.JobID, func(p jobProgress) { b, _ := json.Marshal(p); record(b) })
	for _, g := range []string{"1", "2", "3"} {
		var rec map[string]any
		if err := json.Unmarshal(guardianRecord(t, priv, g), &rec); err != nil {
			t.Fatal(err)
		}
		rec["canary"] = canary
		raw, _ := json.Marshal(rec)
		body := decryptionBody(t, id, g, raw)
		requests.WriteString(body)
		resp, out := f.do(request{method: "POST", path: "/api/create-decryption-queue", contentType: "application/json", body: jsonBody(body)})
		record(out)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("decryption of %s: %d %s", g, resp.StatusCode, out)
		}
		var q api.QueueResponse
		if err := json.Unmarshal(out, &q); err != nil {
			t.Fatal(err)
		}
		f.waitForJob(q.JobID, func(p jobProgress) { b, _ := json.Marshal(p); record(b) })
	}
	if n := sealedSecrets(t, pool, id); n != 3 {
		t.Fatalf("%d sealed secrets before combine, want the 3 decrypting guardians'", n)
	}
	combine := f.queue("/api/create-combine-queue", idBody, http.StatusAccepted)
	if p := f.waitForJob(combine.JobID, func(p jobProgress) { b, _ := json.Marshal(p); record(b) }); p.Status != "COMPLETED" {
		t.Fatalf("combine ended %+v", p)
	}
	if n := sealedSecrets(t, pool, id); n != 0 {
		t.Errorf("%d sealed secrets left after combine", n)
	}
	for _, path := range []string{"/api/elections/" + itoa(id), "/api/elections/" + itoa(id) + "/results",
		"/api/elections/" + itoa(id) + "/record", "/api/jobs?electionId=" + itoa(id)} {
		_, out := f.do(request{method: "GET", path: path})
		record(out)
	}

	var riverRows bytes.Buffer
	rows, err := pool.Query(context.Background(), `SELECT row_to_json(j)::text FROM river_job j`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		riverRows.WriteString(s)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	messages := riverRows.Bytes()
	if tap != nil {
		messages = tap()
	}
	if len(messages) == 0 || (tap != nil && !bytes.Contains(messages, []byte("publish."))) {
		t.Fatalf("no %s messages to scan (%d bytes)", brokerName, len(messages))
	}
	dump, err := exec.Command(pgDump, "--no-owner", pool.Config().ConnString()).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(dump, []byte("decryption_shares")) {
		t.Fatal("the dump holds no decryption_shares table; it scanned nothing")
	}

	found := scan.Scan("the requests", requests.Bytes())
	for _, want := range []string{"canary", "secret key of 1", "coefficient 1 of 2", "auxiliary private key of 3"} {
		if !hasSecret(found, want) {
			t.Fatalf("%s is not found in the requests that carried it: the scan is blind", want)
		}
	}
	for where, data := range map[string][]byte{"the logs": logs.Bytes(), "the API responses": responses.Bytes(),
		"the " + brokerName + " broker's messages": messages, "River's job rows": riverRows.Bytes(), "pg_dump": dump} {
		for _, leak := range scan.Scan(where, data) {
			t.Errorf("leak: %s", leak)
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"level":"DEBUG"`)) {
		t.Error("no debug line was logged; the run was not at debug level")
	}
}

// sealedSecrets counts an election's sealed guardian secrets.
func sealedSecrets(t *testing.T, pool *pgxpool.Pool, electionID int64) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM guardian_secrets WHERE election_id = $1`, electionID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// leakBroker returns the named broker on pool and, for RabbitMQ, a tap: a
// function returning every message the node was given from now on (bodies
// and headers, through the firehose tracer), which it stops tapping then.
func leakBroker(t *testing.T, name string, pool *pgxpool.Pool, logger *slog.Logger) (queue.Broker, func() []byte) {
	t.Helper()
	if name == "river" {
		broker, err := riverbroker.New(pool, riverbroker.Config{Logger: logger, FetchPollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return broker, nil
	}
	url, dir := testmq.URL(t), testmq.Dir(t)
	broker, err := rabbitmq.New(pool, rabbitmq.Config{URL: url, QueuePrefix: "tallyq-leak-" + randomHex(t, 4), Logger: logger,
		Operations: []string{election.OpTally, election.OpDecryption, election.OpCombine}})
	if err != nil {
		t.Fatal(err)
	}
	return broker, firehoseTap(t, url, dir)
}

// firehoseTap turns on the node's firehose tracer and binds a queue of its
// own to amq.rabbitmq.trace, which then receives a copy of every message
// published to or delivered by the node, with its properties. The returned
// function drains that queue and turns the tracer off again.
func firehoseTap(t *testing.T, url, dir string) func() []byte {
	t.Helper()
	ctl := func(args ...string) {
		out, err := exec.Command("../scripts/rabbitmq.sh", append([]string{"ctl", dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "#", "amq.rabbitmq.trace", false, nil); err != nil {
		t.Fatal(err)
	}
	ctl("trace_on")
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			ctl("trace_off")
		}
	}
	t.Cleanup(stop)
	return func() []byte {
		stop()
		var all bytes.Buffer
		for {
			d, ok, err := ch.Get(q.Name, true)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return all.Bytes()
			}
			fmt.Fprintf(&all, "%s %v %v\n", d.RoutingKey, d.Headers, d.CorrelationId)
			all.Write(d.Body)
			all.WriteByte('\n')
		}
	}
}

func hasSecret(found []secretscan.Finding, name string) bool {
	for _, f := range found {
		if f.Secret == name {
			return true
		}
	}
	return false
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// secretsOf returns a scanner for every secret of the sample election's
// guardians (secret keys, polynomial coefficients, the backups each
// received, auxiliary private keys) and a canary, and the canary's text.
func secretsOf(t *testing.T, priv string) (*secretscan.Scanner, string) {
	t.Helper()
	g := eg.Standard()
	scan := &secretscan.Scanner{}
	qLen, pLen := (g.Q().BitLen()+7)/8, g.PByteLen()
	canary := randomHex(t, 32)
	c, _ := new(big.Int).SetString(canary, 16)
	if err := scan.Add("canary", c, qLen); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(priv, "private_guardians", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no private guardian records (%v)", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var p record.PrivateGuardian
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		id := p.GuardianID
		add := func(name string, x *big.Int) {
			if err := scan.Add(name, x, qLen, pLen); err != nil {
				t.Fatal(err)
			}
		}
		add("secret key of "+id, p.ElectionKeys.KeyPair.SecretKey.Big())
		for j, co := range p.ElectionKeys.Polynomial.Coefficients {
			add("coefficient "+itoa(int64(j))+" of "+id, co.Value.Big())
		}
		for _, b := range p.GuardianElectionPartialKeyBackups {
			sender, ok := publicKeysOf(t, g, priv, b.PartialKeyBackup.OwnerID)
			if !ok {
				continue
			}
			v, err := p.BackupFor(g, sender)
			if err != nil {
				t.Fatal(err)
			}
			add("backup from "+b.PartialKeyBackup.OwnerID+" held by "+id, v.Big())
		}
		for _, line := range strings.Split(string(p.AuxiliaryKeys.SecretKey), "\n") {
			if len(line) == 64 { // a full line of the PEM body
				if err := scan.AddBytes("auxiliary private key of "+id, []byte(line)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return scan, canary
}

// publicKeysOf reads a guardian's public keys from the sample election's
// record, next to its private data.
func publicKeysOf(t *testing.T, g *eg.Group, priv, id string) (*record.GuardianPublicKeys, bool) {
	t.Helper()
	f, err := os.Open(filepath.Join(filepath.Dir(priv), "election_record", record.GuardiansDir, "guardian_"+id+".json"))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var r record.GuardianRecord
	if err := record.Decode(f, &r); err != nil {
		t.Fatal(err)
	}
	pub, err := r.PublicKeys(g)
	if err != nil {
		t.Fatal(err)
	}
	return pub, true
}
