package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/jobs"
)

// streamTimeout bounds every wait on an event stream.
const streamTimeout = time.Minute

// eventStream reads a text/event-stream response.
type eventStream struct {
	t      *testing.T
	resp   *http.Response
	lines  *bufio.Scanner
	cancel context.CancelFunc
	// comments counts the comment lines (heartbeats) read so far.
	comments int
}

// openEvents opens the job's event stream and checks its headers.
func (b *browserFixture) openEvents(jobID, bearer, cookie string) *eventStream {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamTimeout)
	resp := b.open(ctx, browserRequest{method: "GET", path: "/api/jobs/" + jobID + "/events", bearer: bearer, cookie: cookie})
	b.t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("events: status %d", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(h); got != want {
			b.t.Fatalf("events: %s = %q, want %q", h, got, want)
		}
	}
	return &eventStream{t: b.t, resp: resp, lines: bufio.NewScanner(resp.Body), cancel: cancel}
}

// next returns the next status event, or ok=false when the stream ended.
func (s *eventStream) next() (st jobs.JobStatus, ok bool) {
	s.t.Helper()
	st, ok, err := s.read()
	if err != nil {
		s.t.Fatal(err)
	}
	return st, ok
}

// read is next for any goroutine: it returns what is wrong instead of
// failing the test.
func (s *eventStream) read() (st jobs.JobStatus, ok bool, err error) {
	var event, data string
	for s.lines.Scan() {
		line := s.lines.Text()
		switch {
		case line == "":
			if event == "" && data == "" {
				continue
			}
			if event != "status" {
				return st, false, fmt.Errorf("event %q, want status", event)
			}
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				return st, false, fmt.Errorf("event data %q: %w", data, err)
			}
			return st, true, nil
		case strings.HasPrefix(line, ":"):
			s.comments++
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && data == "":
			data = strings.TrimPrefix(line, "data: ")
		default:
			return st, false, fmt.Errorf("unexpected line %q in the event stream", line)
		}
	}
	if err := s.lines.Err(); err != nil {
		return st, false, fmt.Errorf("event stream broke: %w", err)
	}
	if event != "" || data != "" {
		return st, false, fmt.Errorf("the stream ended inside an event")
	}
	return st, false, nil
}

// untilEnd reads the events until the stream ends and returns them.
func (s *eventStream) untilEnd() []jobs.JobStatus {
	s.t.Helper()
	all, err := s.readAll()
	if err != nil {
		s.t.Fatal(err)
	}
	return all
}

// readAll is untilEnd for any goroutine.
func (s *eventStream) readAll() ([]jobs.JobStatus, error) {
	var all []jobs.JobStatus
	for {
		st, ok, err := s.read()
		if err != nil || !ok {
			return all, err
		}
		all = append(all, st)
	}
}

// streamQueuedJob opens the event stream of a new job that stays QUEUED
// (no worker runs) and reads its first event.
func (b *browserFixture) streamQueuedJob() *eventStream {
	b.t.Helper()
	job := b.createJob(opNoop, 3, 1)
	stream := b.openEvents(job.JobID.String(), testToken, "")
	if st, ok := stream.next(); !ok || st.Status != jobs.StatusQueued {
		b.t.Fatalf("first event %+v, %v; want QUEUED", st, ok)
	}
	return stream
}

// waitForSubscribers waits until the hub has n subscribers.
func (b *browserFixture) waitForSubscribers(n int) {
	b.t.Helper()
	deadline := time.Now().Add(streamTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for b.hub.Subscribers() != n {
		if time.Now().After(deadline) {
			b.t.Fatalf("the hub has %d subscribers after %s, want %d", b.hub.Subscribers(), streamTimeout, n)
		}
		<-tick.C
	}
}

// checkProgression fails the test unless events start QUEUED, never count
// backwards and end COMPLETED with every chunk processed.
func checkProgression(t *testing.T, events []jobs.JobStatus, chunks int) {
	t.Helper()
	if len(events) < 2 {
		t.Fatalf("%d events, want at least QUEUED and COMPLETED", len(events))
	}
	if events[0].Status != jobs.StatusQueued {
		t.Fatalf("first event %s, want QUEUED", events[0].Status)
	}
	for i := 1; i < len(events); i++ {
		if events[i].ProcessedChunks < events[i-1].ProcessedChunks {
			t.Fatalf("event %d has processedChunks %d after %d", i, events[i].ProcessedChunks, events[i-1].ProcessedChunks)
		}
	}
	last := events[len(events)-1]
	if last.Status != jobs.StatusCompleted || last.ProcessedChunks != chunks || last.ProgressPercent != 100 {
		t.Fatalf("last event %+v, want COMPLETED with %d chunks", last, chunks)
	}
	for _, st := range events[:len(events)-1] {
		if st.Status.Terminal() {
			t.Fatalf("a terminal event %s before the last", st.Status)
		}
	}
}

func TestJobEventsStreamToCompletion(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	const chunks = 40
	job := b.createJob(opNoop, chunks, 1)
	stream := b.openEvents(job.JobID.String(), testToken, "")
	first, ok := stream.next()
	if !ok {
		t.Fatal("the stream ended before its first event")
	}
	b.runWorkers()
	events := append([]jobs.JobStatus{first}, stream.untilEnd()...)
	checkProgression(t, events, chunks)
	t.Logf("%d events for %d chunks", len(events), chunks)
	b.waitForSubscribers(0)

	// A finished job's stream is its one terminal event.
	events = b.openEvents(job.JobID.String(), testToken, "").untilEnd()
	if len(events) != 1 || events[0].Status != jobs.StatusCompleted {
		t.Fatalf("events of a finished job: %+v", events)
	}
}

func TestJobEventsWithSessionCookie(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	cookie, _ := b.signIn()
	job := b.createJob(opNoop, 5, 1)
	stream := b.openEvents(job.JobID.String(), "", cookie)
	if st, ok := stream.next(); !ok || st.JobID != job.JobID {
		t.Fatalf("first event %+v, %v", st, ok)
	}
	b.runWorkers()
	events := stream.untilEnd()
	if len(events) == 0 || events[len(events)-1].Status != jobs.StatusCompleted {
		t.Fatalf("events %+v, want the last COMPLETED", events)
	}
}

func TestJobEventsErrors(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	unknown := randomID()
	for _, tc := range []struct {
		name, path, bearer string
		status             int
		code               string
	}{
		{"unknown job", "/api/jobs/" + unknown + "/events", testToken, http.StatusNotFound, api.CodeJobNotFound},
		{"malformed id", "/api/jobs/nope/events", testToken, http.StatusBadRequest, api.CodeInvalidID},
		{"no credentials", "/api/jobs/" + unknown + "/events", "", http.StatusUnauthorized, api.CodeUnauthorized},
	} {
		resp, body := b.send(browserRequest{method: "GET", path: tc.path, bearer: tc.bearer})
		wantStatus(t, tc.name, resp, body, tc.status, tc.code)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: Content-Type %q", tc.name, ct)
		}
	}
	b.waitForSubscribers(0)
}

func TestJobEventsClientGoesAway(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	stream := b.streamQueuedJob()
	if n := b.hub.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers while one stream is open", n)
	}
	stream.cancel()
	b.waitForSubscribers(0)
}

func TestJobEventsHeartbeat(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{heartbeat: 10 * time.Millisecond})
	stream := b.streamQueuedJob()
	// Nothing changes while no worker runs: the stream only sends heartbeats.
	for stream.comments < 3 && stream.lines.Scan() {
		line := stream.lines.Text()
		if strings.HasPrefix(line, ":") {
			stream.comments++
		} else if line != "" {
			t.Fatalf("line %q while the job stands still", line)
		}
	}
	if stream.comments < 3 {
		t.Fatalf("the stream ended after %d heartbeats", stream.comments)
	}
}

func TestJobEventsEndWhenHubStops(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	stream := b.streamQueuedJob()
	// The server's shutdown stops the hub, which must end open streams.
	b.stopHub()
	if rest := stream.untilEnd(); len(rest) != 0 {
		t.Fatalf("events after the hub stopped: %+v", rest)
	}
}

func TestJobEventsManySubscribersOneListener(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	const (
		clients = 40
		chunks  = 30
	)
	job := b.createJob(opNoop, chunks, 1)
	streams := make([]*eventStream, clients)
	firsts := make([]jobs.JobStatus, clients)
	for i := range streams {
		streams[i] = b.openEvents(job.JobID.String(), testToken, "")
		st, ok := streams[i].next()
		if !ok {
			t.Fatalf("stream %d: no first event", i)
		}
		firsts[i] = st
	}
	b.waitForSubscribers(clients)
	var listeners int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND query LIKE '%`+jobs.StatusChannel+`%'`).
		Scan(&listeners); err != nil {
		t.Fatal(err)
	}
	if listeners != 1 {
		t.Fatalf("%d connections LISTEN on %s for %d streams, want 1", listeners, jobs.StatusChannel, clients)
	}

	b.runWorkers()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, s := range streams {
		wg.Go(func() {
			rest, err := s.readAll()
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
			}
			events := append([]jobs.JobStatus{firsts[i]}, rest...)
			last := events[len(events)-1]
			if last.Status != jobs.StatusCompleted || last.ProcessedChunks != chunks {
				errs <- fmt.Errorf("stream %d ended with %+v", i, last)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b.waitForSubscribers(0)
}
