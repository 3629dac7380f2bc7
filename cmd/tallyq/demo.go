package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/pgserver"
	"github.com/tallyq/tallyq/internal/resultcheck"
	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/internal/synth"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
	"github.com/tallyq/tallyq/migrations"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "run a synthetic election through the whole pipeline and check its results",
		run:     runDemo,
	})
}

const demoSummary = `demo runs a whole election on a private, in-process tallyq: a key ceremony, synthetic
ballots of known plaintext encrypted and uploaded as NDJSON, then the tally, the decryptions
of the guardians present, compensation for the missing ones and the combine, each through
the real job queue with a progress bar. It prints the results and compares them with the
plaintext: the exit status is 0 only when they are equal, and the last line says which.

Without --database-url it uses the private Postgres of "make run" (in .tallyq of the
checkout). Without TALLYQ_SECRET_KEY it seals guardian secrets under a key it makes for
this run only. --stop-after ingest leaves the election OPEN with its ballots for
"tallyq serve" and prints how to start its tally.`

// demoOptions are the flags of `tallyq demo`.
type demoOptions struct {
	engineOptions
	ballots, spoiled               int
	guardians, quorum, missing     int
	contests, selections           int
	group, stopAfter               choiceValue
	workers, encryptWorkers, seed  int
	rsaBits                        int
	verifyBallots, skipIfElections bool
	saveGuardians                  string
	pollInterval                   time.Duration
}

func (o *demoOptions) register(fs *flagSet) {
	o.engineOptions.register(fs)
	// The demo's own output is what matters; the service's logs are quiet.
	o.logLevel = levelValue{name: "warn", level: slog.LevelWarn}
	fs.Lookup("log-level").DefValue = o.logLevel.name
	fs.IntEnv(&o.ballots, "ballots", "TALLYQ_DEMO_BALLOTS", 1000, "ballots to encrypt and ingest")
	fs.IntEnv(&o.spoiled, "spoiled", "TALLYQ_DEMO_SPOILED", -1, "how many of the ballots are spoiled (default: 5% of --ballots)")
	fs.IntEnv(&o.guardians, "guardians", "TALLYQ_DEMO_GUARDIANS", synth.DefaultGuardians, "guardians of the key ceremony")
	fs.IntEnv(&o.quorum, "quorum", "TALLYQ_DEMO_QUORUM", synth.DefaultQuorum, "guardians needed to decrypt")
	fs.IntEnv(&o.missing, "missing", "TALLYQ_DEMO_MISSING", 2,
		"guardians that do not decrypt (at most --guardians minus --quorum); the others compensate for them")
	fs.IntEnv(&o.contests, "contests", "TALLYQ_DEMO_CONTESTS", synth.DefaultContests, "contests on the ballot")
	fs.IntEnv(&o.selections, "selections", "TALLYQ_DEMO_SELECTIONS", synth.DefaultSelectionsPerContest, "selections per contest")
	o.group = choiceValue{value: "standard", choices: []string{"standard", "test"}}
	fs.VarEnv(&o.group, "group", "TALLYQ_DEMO_GROUP",
		"`group`: standard (ElectionGuard's 4096-bit group) or test (a tiny, insecure group for quick runs)")
	fs.IntEnv(&o.workers, "workers", "TALLYQ_WORKERS", runtime.NumCPU(), "in-process chunk slots (default: the number of CPUs)")
	fs.IntEnv(&o.encryptWorkers, "encrypt-workers", "TALLYQ_DEMO_ENCRYPT_WORKERS", runtime.NumCPU(),
		"goroutines encrypting ballots, each an encryption device (default: the number of CPUs)")
	fs.IntEnv(&o.seed, "seed", "TALLYQ_DEMO_SEED", 1, "seed of the voters' choices: a seed always gives the same results")
	fs.IntEnv(&o.rsaBits, "rsa-bits", "TALLYQ_DEMO_RSA_BITS", synth.DefaultRSABits,
		"size of the guardians' auxiliary RSA keys, which encrypt their key backups (ElectionGuard uses 4096)")
	fs.BoolVar(&o.verifyBallots, "verify-ballots", true, "make the tally check every ballot's proofs (--verify-ballots=false to skip)")
	o.stopAfter = choiceValue{value: "results", choices: []string{"ingest", "results"}}
	fs.VarEnv(&o.stopAfter, "stop-after", "TALLYQ_DEMO_STOP_AFTER",
		"`stage` to stop after: ingest (leave the election OPEN with its ballots, for tallyq serve) or results")
	fs.StringEnv(&o.saveGuardians, "save-guardians", "TALLYQ_DEMO_SAVE_GUARDIANS", "",
		"`dir` to write the guardians' private records to (mode 0600), to decrypt the election later; by default they are forgotten")
	fs.BoolVar(&o.skipIfElections, "skip-if-elections", false,
		"do nothing when the database already holds an election (`make run` loads its demo election once)")
	fs.DurationEnv(&o.pollInterval, "poll-interval", "TALLYQ_DEMO_POLL_INTERVAL", 250*time.Millisecond, "how often job status is polled")
}

func (o *demoOptions) validate() error {
	// An empty database URL is fine here: the demo then uses make run's
	// private Postgres, which only the run itself starts.
	url := o.databaseURL
	o.databaseURL = "unset"
	err := o.engineOptions.validate()
	o.databaseURL = url
	if err != nil {
		return err
	}
	if o.spoiled < 0 {
		o.spoiled = o.ballots / 20
	}
	switch {
	case o.ballots < 1:
		return usagef("--ballots must be at least 1, got %d", o.ballots)
	case o.spoiled > o.ballots:
		return usagef("--spoiled %d is more than the %d ballots", o.spoiled, o.ballots)
	case o.guardians < 1 || o.quorum < 1 || o.quorum > o.guardians:
		return usagef("--quorum must be from 1 to --guardians (%d), got %d", o.guardians, o.quorum)
	case o.missing < 0 || o.missing > o.guardians-o.quorum:
		return usagef("--missing must be from 0 to --guardians minus --quorum (%d), got %d", o.guardians-o.quorum, o.missing)
	case o.contests < 1 || o.selections < 1:
		return usagef("--contests and --selections must be at least 1, got %d and %d", o.contests, o.selections)
	case o.workers < 1 || o.encryptWorkers < 1:
		return usagef("--workers and --encrypt-workers must be at least 1, got %d and %d", o.workers, o.encryptWorkers)
	case o.rsaBits < 1024:
		return usagef("--rsa-bits must be at least 1024, got %d", o.rsaBits)
	case o.pollInterval <= 0:
		return usagef("--poll-interval must be positive, got %s", o.pollInterval)
	}
	return nil
}

// demoHooks let tests observe the demo's election and tamper with what it
// expects, to see a difference reported.
type demoHooks struct {
	election func(*synth.Election)
	expected func(*synth.Expected)
}

func runDemo(ctx context.Context, e *env, args []string) error {
	return runDemoWith(ctx, e, args, demoHooks{})
}

// runDemoWith runs the demo with test hooks: it prepares the database, then
// runs the service and API in this process while the demo drives them.
func runDemoWith(ctx context.Context, e *env, args []string, hooks demoHooks) error {
	var opts demoOptions
	if err := parseOptions(e, args, "demo", "[flags]", demoSummary, &opts); err != nil {
		return err
	}
	logger := opts.logger(e)
	if opts.databaseURL == "" {
		url, err := privateDatabase(ctx, e)
		if err != nil {
			return err
		}
		opts.databaseURL = url
	}
	elections, err := prepareDatabase(ctx, opts.databaseURL, logger)
	if err != nil {
		return err
	}
	if elections > 0 && opts.skipIfElections {
		fmt.Fprintf(e.stdout, "demo: SKIPPED: the database already holds %d election(s) (--skip-if-elections)\n", elections)
		return nil
	}
	d, serve, err := startDemo(ctx, e, &opts, logger, hooks)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	serviceCtx, stopService := context.WithCancel(gctx)
	g.Go(func() error { return d.svc.run(serviceCtx, opts.workers, serve) })
	g.Go(func() error {
		defer stopService()
		return d.run(gctx)
	})
	return g.Wait()
}

// startDemo builds the service, with a sealing key, and its API on a
// loopback port with an admin token that only this run knows. It returns the
// demo and the function that serves the API.
func startDemo(ctx context.Context, e *env, opts *demoOptions, logger *slog.Logger, hooks demoHooks) (*demo, func(context.Context) error, error) {
	key, err := demoSecretKey(e)
	if err != nil {
		return nil, nil, err
	}
	svc, err := startServiceWithKey(ctx, logger, opts.engineOptions, opts.workers, &key)
	if err != nil {
		return nil, nil, err
	}
	token := randomHex(32)
	handler, err := api.New(api.Config{Jobs: svc.engine, Elections: svc.elections, AdminToken: token,
		Logger: logger.With("component", "http")})
	if err != nil {
		svc.pool.Close()
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		svc.pool.Close()
		return nil, nil, fmt.Errorf("listen on loopback: %w", err)
	}
	d := &demo{opts: opts, env: e, hooks: hooks, svc: svc,
		api: &apiClient{base: "http://" + ln.Addr().String(), token: token, hc: &http.Client{}}}
	return d, func(ctx context.Context) error { return serveHTTP(ctx, ln, handler, opts.shutdownGrace) }, nil
}

// privateDatabase starts (or reuses) the Postgres that `make run` keeps in
// .tallyq of the checkout and returns its URL.
func privateDatabase(ctx context.Context, e *env) (string, error) {
	noDB := usagef("no database: set --database-url or TALLYQ_DATABASE_URL, or run the demo inside the tallyq checkout, " +
		"where it uses the private Postgres of `make run` (scripts/postgres.sh)")
	root, err := pgserver.ModuleRoot()
	if err != nil {
		return "", noDB
	}
	script := filepath.Join(root, "scripts", "postgres.sh")
	if _, err := os.Stat(script); err != nil {
		return "", noDB
	}
	dir := filepath.Join(root, ".tallyq")
	fmt.Fprintf(e.stderr, "using the private Postgres of `make run` in %s (`make stop` stops it)\n", dir)
	srv, err := pgserver.Start(ctx, dir, pgserver.Options{Fsync: true, Script: script})
	if err != nil {
		return "", fmt.Errorf("start the private Postgres: %w", err)
	}
	return srv.URL(), nil
}

// prepareDatabase brings the schema up to date, as `tallyq migrate up`
// does, and counts the elections the database holds.
func prepareDatabase(ctx context.Context, databaseURL string, logger *slog.Logger) (int64, error) {
	pool, err := connect(ctx, databaseURL, 0, 0, logger)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	if err := migrations.New(pool).Up(ctx); err != nil {
		return 0, err
	}
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM elections`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the elections: %w", err)
	}
	return n, nil
}

// demoSecretKey returns the key in TALLYQ_SECRET_KEY, or a new one that
// lives as long as this process: the demo's combine erases the secrets it
// sealed.
func demoSecretKey(e *env) (seal.Key, error) {
	if v, ok := e.lookupEnv(seal.EnvVar); ok && strings.TrimSpace(v) != "" {
		k, err := seal.ParseKey(v)
		if err != nil {
			return k, fmt.Errorf("%s: %w", seal.EnvVar, err)
		}
		return k, nil
	}
	return seal.ParseKey(randomHex(seal.KeySize))
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}

// demo is one run of the demo against its in-process API.
type demo struct {
	opts  *demoOptions
	env   *env
	hooks demoHooks
	svc   *service
	api   *apiClient
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.env.stderr, format+"\n", args...)
}

func (d *demo) run(ctx context.Context) error {
	start := time.Now()
	el, err := d.ceremony()
	if err != nil {
		return err
	}
	id, err := d.svc.elections.Create(ctx, &election.Definition{Group: el.Group, Manifest: el.Manifest,
		Context: el.Ceremony.Context, Guardians: el.Ceremony.Guardians, Devices: el.Devices(d.opts.encryptWorkers),
		DoNotVerifyBallots: !d.opts.verifyBallots, CreatedBy: "demo"})
	if err != nil {
		return fmt.Errorf("create the election: %w", err)
	}
	d.say("election %d created: %d contests of %d selections, %d guardians, quorum %d, chunks of %d ballots",
		id, d.opts.contests, d.opts.selections, d.opts.guardians, d.opts.quorum, d.opts.chunkSize)
	want, err := d.ingest(ctx, el, id)
	if err != nil {
		return err
	}
	if d.opts.stopAfter.value == "ingest" {
		return d.stopAfterIngest(id, want)
	}
	if err := d.decrypt(ctx, el, id); err != nil {
		// Secrets sealed under a key that dies with this process are of
		// no use to anyone; do not leave them behind.
		if _, eraseErr := d.svc.elections.EraseSecrets(context.WithoutCancel(ctx), id, "demo"); eraseErr != nil {
			d.say("could not erase the sealed guardian secrets of election %d: %v", id, eraseErr)
		}
		return err
	}
	var res election.Results
	if err := d.api.get(ctx, fmt.Sprintf("/api/elections/%d/results", id), &res); err != nil {
		return err
	}
	printResults(d.env.stdout, &res)
	if d.hooks.expected != nil {
		d.hooks.expected(want)
	}
	if err := resultcheck.Compare(&res, want); err != nil {
		return fmt.Errorf("FAILED: the decrypted results of election %d differ from the known plaintext: %w", id, err)
	}
	fmt.Fprintf(d.env.stdout, "demo: SUCCESS: election %d's decrypted results equal the known plaintext "+
		"(%d ballots: %d cast, %d spoiled; %d of %d guardians decrypted) in %s\n",
		id, d.opts.ballots, want.Cast, want.Spoiled, d.opts.guardians-d.opts.missing, d.opts.guardians, formatDuration(time.Since(start)))
	return nil
}

// ceremony makes the synthetic election and its guardians' keys.
func (d *demo) ceremony() (*synth.Election, error) {
	start := time.Now()
	g := eg.Standard()
	if d.opts.group.value == "test" {
		g = eg.TestGroup()
	}
	el, err := synth.NewElection(g, synth.Options{Guardians: d.opts.guardians, Quorum: d.opts.quorum,
		Contests: d.opts.contests, SelectionsPerContest: d.opts.selections, RSABits: d.opts.rsaBits, Seed: uint64(d.opts.seed)})
	if err != nil {
		return nil, err
	}
	if d.hooks.election != nil {
		d.hooks.election(el)
	}
	d.say("key ceremony: %d guardians, quorum %d, %s group, %d-bit RSA backups (%s)",
		d.opts.guardians, d.opts.quorum, g.Name(), d.opts.rsaBits, formatDuration(time.Since(start)))
	if d.opts.saveGuardians != "" {
		w := record.NewWriter("", d.opts.saveGuardians)
		for _, p := range el.Ceremony.Private {
			if err := w.WritePrivateGuardian(p); err != nil {
				return nil, fmt.Errorf("--save-guardians: %w", err)
			}
		}
		d.say("guardians' private records written to %s", filepath.Join(d.opts.saveGuardians, record.PrivateGuardiansDir))
	}
	return el, nil
}

// ingest encrypts the ballots and streams them to the API as they come,
// and returns what they must decrypt to.
func (d *demo) ingest(ctx context.Context, el *synth.Election, id int64) (*synth.Expected, error) {
	bar := newProgress(d.env.stderr, d.env.stderrIsTerminal, "encrypt + upload")
	defer bar.stop()
	opts := synth.BallotOptions{Count: d.opts.ballots, Spoiled: d.opts.spoiled, Seed: uint64(d.opts.seed),
		Workers: d.opts.encryptWorkers}
	opts.Progress = func(n int) {
		rate := float64(n) / time.Since(bar.started).Seconds()
		bar.update(n, opts.Count, "ballots", fmt.Sprintf("%.1f ballots/s", rate))
	}
	body, upload := io.Pipe()
	type generated struct {
		want *synth.Expected
		err  error
	}
	done := make(chan generated, 1)
	go func() {
		want, err := el.WriteNDJSON(ctx, upload, opts)
		upload.CloseWithError(err) // nil: the body ends
		done <- generated{want, err}
	}()
	var rep api.IngestResponse
	err := d.api.call(ctx, http.MethodPost, fmt.Sprintf("/api/elections/%d/ballots", id), "application/x-ndjson", body, &rep)
	body.Close() // stops the encryption if the request ended early
	gen := <-done
	if gen.err != nil && !errors.Is(gen.err, io.ErrClosedPipe) {
		return nil, fmt.Errorf("encrypt the ballots: %w", gen.err)
	}
	if err != nil {
		return nil, err
	}
	if rep.Stored != opts.Count || rep.Rejected != 0 {
		first := ""
		if len(rep.Errors) > 0 {
			first = fmt.Sprintf("; line %d: %s", rep.Errors[0].Line, rep.Errors[0].Error)
		}
		return nil, fmt.Errorf("FAILED: the API stored %d of %d ballots and rejected %d%s", rep.Stored, opts.Count, rep.Rejected, first)
	}
	bar.finish(rep.Stored, opts.Count, "ballots", "stored", time.Since(bar.started))
	return gen.want, nil
}

// decrypt runs the tally, the decryptions of the guardians present and the
// combine, each through the queue.
func (d *demo) decrypt(ctx context.Context, el *synth.Election, id int64) error {
	var tally api.QueueResponse
	if err := d.api.postJSON(ctx, "/api/create-tally-queue", api.ElectionRequest{ElectionID: &id}, &tally); err != nil {
		return err
	}
	if err := d.wait(ctx, "tally", tally); err != nil {
		return err
	}
	// The guardians decrypt at once, as they would from their own desks;
	// the queue shares the workers between their jobs.
	present := el.Ceremony.Private[:d.opts.guardians-d.opts.missing]
	queued := make([]api.QueueResponse, len(present))
	for i, p := range present {
		raw, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode the private record of %s: %w", p.GuardianID, err)
		}
		err = d.api.postJSON(ctx, "/api/create-decryption-queue",
			api.DecryptionRequest{ElectionID: &id, GuardianID: p.GuardianID, GuardianRecord: raw}, &queued[i])
		clear(raw)
		if err != nil {
			return err
		}
	}
	for i, q := range queued {
		if err := d.wait(ctx, "decrypt "+present[i].GuardianID, q); err != nil {
			return err
		}
	}
	var combine api.QueueResponse
	if err := d.api.postJSON(ctx, "/api/create-combine-queue", api.ElectionRequest{ElectionID: &id}, &combine); err != nil {
		return err
	}
	label := "combine"
	if d.opts.missing > 0 {
		label = "compensate + combine"
	}
	return d.wait(ctx, label, combine)
}

// wait polls a job's status, drawing its progress, until it ends; it is an
// error unless the job completed.
func (d *demo) wait(ctx context.Context, label string, q api.QueueResponse) error {
	bar := newProgress(d.env.stderr, d.env.stderrIsTerminal, label)
	defer bar.stop()
	tick := time.NewTicker(d.opts.pollInterval)
	defer tick.Stop()
	for {
		var st jobs.JobStatus
		if err := d.api.get(ctx, q.PollURL, &st); err != nil {
			return err
		}
		if st.Status.Terminal() {
			took := time.Since(bar.started)
			if st.StartedAt != nil && st.CompletedAt != nil {
				took = st.CompletedAt.Sub(*st.StartedAt)
			}
			bar.finish(st.ProcessedChunks, st.TotalChunks, "chunks", strings.ToLower(string(st.Status)), took)
			if st.Status != jobs.StatusCompleted {
				msg := "no error message"
				if st.ErrorMessage != nil {
					msg = *st.ErrorMessage
				}
				return fmt.Errorf("FAILED: %s job %s ended %s: %s", label, st.JobID, st.Status, msg)
			}
			return nil
		}
		detail := fmt.Sprintf("%.1f chunks/s", st.ChunksPerSecond)
		if st.EtaSeconds != nil {
			detail += ", eta " + formatDuration(time.Duration(*st.EtaSeconds*float64(time.Second)))
		}
		bar.update(st.ProcessedChunks, st.TotalChunks, "chunks", detail)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stopAfterIngest prints how to go on with the OPEN election on `tallyq serve`.
func (d *demo) stopAfterIngest(id int64, want *synth.Expected) error {
	base := serveURL(d.env)
	out := d.env.stdout
	fmt.Fprintf(out, "Election %d holds %d ballots (%d cast, %d spoiled) and is OPEN. On `tallyq serve`, start its tally with:\n",
		id, d.opts.ballots, want.Cast, want.Spoiled)
	fmt.Fprintf(out, "  curl -X POST -H \"Authorization: Bearer $TALLYQ_ADMIN_TOKEN\" -H 'Content-Type: application/json' -d '{\"election_id\": %d}' %s/api/create-tally-queue\n", id, base)
	if d.opts.saveGuardians != "" {
		file := filepath.Join(d.opts.saveGuardians, record.PrivateGuardiansDir, "private_guardian_"+synth.GuardianID(0)+".json")
		fmt.Fprintf(out, "then, once it is tallied, decrypt as %s (and as at least %d guardians in all) with:\n", synth.GuardianID(0), d.opts.quorum)
		fmt.Fprintf(out, "  jq -n --argjson r \"$(cat %s)\" '{election_id: %d, guardian_id: \"%s\", guardian_record: $r}' | "+
			"curl -X POST -H \"Authorization: Bearer $TALLYQ_ADMIN_TOKEN\" -H 'Content-Type: application/json' -d @- %s/api/create-decryption-queue\n",
			file, id, synth.GuardianID(0), base)
		fmt.Fprintf(out, "then combine the shares and read the results with:\n")
		fmt.Fprintf(out, "  curl -X POST -H \"Authorization: Bearer $TALLYQ_ADMIN_TOKEN\" -H 'Content-Type: application/json' -d '{\"election_id\": %d}' %s/api/create-combine-queue\n", id, base)
		fmt.Fprintf(out, "  curl -H \"Authorization: Bearer $TALLYQ_ADMIN_TOKEN\" %s/api/elections/%d/results\n", base, id)
	}
	fmt.Fprintf(out, "demo: SUCCESS: election %d loaded with %d ballots; stopped after ingest\n", id, d.opts.ballots)
	return nil
}

// serveURL is where `tallyq serve` answers, from TALLYQ_HTTP_ADDR.
func serveURL(e *env) string {
	addr, ok := e.lookupEnv("TALLYQ_HTTP_ADDR")
	if !ok || addr == "" {
		addr = defaultHTTPAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
