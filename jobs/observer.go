package jobs

import "time"

// ChunkOutcome is how one attempt of a chunk ended, as committed.
type ChunkOutcome int

// Chunk outcomes.
const (
	// ChunkOutcomeDone: the result was applied and the chunk counted as processed.
	ChunkOutcomeDone ChunkOutcome = iota + 1
	// ChunkOutcomeRetried: the attempt failed; the chunk is tried again after its backoff.
	ChunkOutcomeRetried
	// ChunkOutcomeFailed: the chunk failed for good and was counted as failed.
	ChunkOutcomeFailed
	// ChunkOutcomeReleased: a stopping worker gave the chunk back unfinished.
	ChunkOutcomeReleased
	// ChunkOutcomeNotRecorded: nothing was recorded, because the claim had
	// lapsed (another delivery owns the chunk) or the commit failed (the
	// broker delivers the message again).
	ChunkOutcomeNotRecorded
)

// String returns the outcome's name: done, retried, failed, released or
// not_recorded.
func (o ChunkOutcome) String() string {
	switch o {
	case ChunkOutcomeDone:
		return "done"
	case ChunkOutcomeRetried:
		return "retried"
	case ChunkOutcomeFailed:
		return "failed"
	case ChunkOutcomeReleased:
		return "released"
	case ChunkOutcomeNotRecorded:
		return "not_recorded"
	}
	return "unknown"
}

// chunkOutcome maps an attempt's committed outcome to what observers see.
func chunkOutcome(o outcome, applied bool) ChunkOutcome {
	if !applied {
		return ChunkOutcomeNotRecorded
	}
	switch o {
	case outcomeDone:
		return ChunkOutcomeDone
	case outcomeRetry:
		return ChunkOutcomeRetried
	case outcomeFail:
		return ChunkOutcomeFailed
	default:
		return ChunkOutcomeReleased
	}
}

// Observer is told of the chunk work of this process's workers, for metrics.
// Its methods are called from many goroutines at once and must not block.
type Observer interface {
	// ChunkStarted is called when a worker has claimed a chunk of the
	// operation and begins its attempt.
	ChunkStarted(operation string)
	// ChunkFinished is called once for every ChunkStarted, when the
	// attempt's outcome has been committed (or could not be), d after it
	// started.
	ChunkFinished(operation string, outcome ChunkOutcome, d time.Duration)
	// ChunkDeliveryDead is called when the broker gave up on a chunk's
	// message and the engine counted that as a failed attempt, ending in
	// ChunkOutcomeRetried or ChunkOutcomeFailed. No worker ran the attempt.
	ChunkDeliveryDead(operation string, outcome ChunkOutcome)
}

// noObserver is the Observer of an engine configured without one.
type noObserver struct{}

func (noObserver) ChunkStarted(string)                               {}
func (noObserver) ChunkFinished(string, ChunkOutcome, time.Duration) {}
func (noObserver) ChunkDeliveryDead(string, ChunkOutcome)            {}

// LiveHeap returns the bytes of heap objects, live or not yet collected: the
// figure the workers' memory budget is compared with.
func LiveHeap() uint64 { return liveHeap() }
