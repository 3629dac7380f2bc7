package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/jobs"
)

// DefaultEventHeartbeat is how often an idle event stream sends a comment,
// so that proxies and browsers keep it open and a gone client shows.
const DefaultEventHeartbeat = 15 * time.Second

// jobEvents serves GET /api/jobs/{jobId}/events, the job's status as
// server-sent events: at once, then after every change, each as
//
//	event: status
//	data: <the JSON of GET /api/jobs/{jobId}/status>
//
// with a comment line as heartbeat while nothing changes. The stream ends
// after a terminal status; an EventSource should then be closed, or the
// browser reconnects and gets the terminal status again.
func (s *server) jobEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "jobId")
	if err != nil {
		return err
	}
	// Subscribe before the first read, so that no change falls between.
	sub := s.statusHub.Subscribe(id)
	defer sub.Close()
	st, err := s.jobs.Status(r.Context(), id)
	if err != nil {
		return err
	}
	if err := authorizeJob(r.Context(), st); err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// The stream must outlive any write timeout of the server.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("lift the write deadline of an event stream: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise buffer the stream
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	s.streamStatus(w, rc, r, sub, st)
	return nil
}

// streamStatus writes st and then the job's status after every signal of
// sub, until the status is terminal, the client goes or the hub stops.
// The response has begun, so failures are logged, not answered.
func (s *server) streamStatus(w http.ResponseWriter, rc *http.ResponseController, r *http.Request,
	sub *jobs.StatusSubscription, st jobs.JobStatus) {
	ctx := r.Context()
	heartbeat := time.NewTicker(s.eventHeartbeat)
	defer heartbeat.Stop()
	var last []byte
	for {
		data, err := statusEventData(st)
		if err != nil {
			s.logger.ErrorContext(ctx, "encode job status event", "jobId", st.JobID, "error", err)
			return
		}
		if !bytes.Equal(data, last) {
			if err := writeEvent(w, rc, "event: status\ndata: "+string(data)+"\n\n"); err != nil {
				return // the client went away
			}
			last = data
		}
		if st.Status.Terminal() {
			return
		}
		if st, err = s.awaitStatus(w, rc, r, sub, heartbeat, st.JobID); err != nil {
			if ctx.Err() == nil && !errors.Is(err, errStreamOver) {
				s.logger.WarnContext(ctx, "job event stream ends", "jobId", st.JobID, "error", err)
			}
			return
		}
	}
}

// errStreamOver ends a stream whose client went away or whose hub stopped.
var errStreamOver = errors.New("event stream over")

// awaitStatus waits for a signal of sub, sending heartbeats meanwhile, and
// then returns the job's status: the one the hub read for every subscriber,
// or, when it has none, its own read.
func (s *server) awaitStatus(w http.ResponseWriter, rc *http.ResponseController, r *http.Request,
	sub *jobs.StatusSubscription, heartbeat *time.Ticker, id uuid.UUID) (jobs.JobStatus, error) {
	for {
		select {
		case <-r.Context().Done():
			return jobs.JobStatus{}, errStreamOver
		case <-sub.Done():
			return jobs.JobStatus{}, errStreamOver
		case <-heartbeat.C:
			if err := writeEvent(w, rc, ": heartbeat\n\n"); err != nil {
				return jobs.JobStatus{}, errStreamOver
			}
		case <-sub.Changed():
			if st, ok := sub.Status(); ok {
				return st, nil
			}
			return s.jobs.Status(r.Context(), id)
		}
	}
}

// statusEventData is st as GET /api/jobs/{jobId}/status writes it, on one line.
func statusEventData(st jobs.JobStatus) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeEvent writes one event (or comment) and flushes it to the client.
func writeEvent(w http.ResponseWriter, rc *http.ResponseController, event string) error {
	if _, err := w.Write([]byte(event)); err != nil {
		return err
	}
	return rc.Flush()
}
