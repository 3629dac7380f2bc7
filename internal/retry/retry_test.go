package retry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tallyq/tallyq/internal/retry"
)

var errDown = errors.New("connection refused")

func TestDoPausesLongerEachTimeUpToMax(t *testing.T) {
	calls := 0
	var pauses []time.Duration
	b := retry.Backoff{For: time.Minute, First: time.Millisecond, Max: 4 * time.Millisecond}
	err := b.Do(context.Background(), func(context.Context) error {
		calls++
		if calls <= 4 {
			return errDown
		}
		return nil
	}, func(err error, pause time.Duration) {
		if !errors.Is(err, errDown) {
			t.Errorf("failed got %v, want the try's error", err)
		}
		pauses = append(pauses, pause)
	})
	if err != nil || calls != 5 {
		t.Fatalf("Do = %v after %d calls; want nil after 5", err, calls)
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}
	if len(pauses) != len(want) {
		t.Fatalf("pauses %v, want %v", pauses, want)
	}
	for i := range want {
		if pauses[i] != want[i] {
			t.Fatalf("pauses %v, want %v", pauses, want)
		}
	}
}

func TestDoGivesUpAfterFor(t *testing.T) {
	calls := 0
	b := retry.Backoff{For: 30 * time.Millisecond, First: time.Millisecond, Max: 5 * time.Millisecond}
	start := time.Now()
	err := b.Do(context.Background(), func(context.Context) error { calls++; return errDown }, nil)
	if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "gave up after") {
		t.Fatalf("Do = %v; want the try's error and how long it was tried", err)
	}
	if elapsed := time.Since(start); elapsed < b.For || calls < 2 {
		t.Errorf("gave up after %d calls in %s; want at least 2 calls and %s", calls, elapsed, b.For)
	}
}

func TestDoWithoutForTriesOnce(t *testing.T) {
	calls := 0
	err := retry.Backoff{}.Do(context.Background(), func(context.Context) error { calls++; return errDown },
		func(error, time.Duration) { t.Error("failed called for a single try") })
	if err != errDown || calls != 1 {
		t.Errorf("Do = %v after %d calls; want the try's own error after 1", err, calls)
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := retry.Default(time.Hour).Do(ctx, func(context.Context) error { calls++; return errDown },
		func(error, time.Duration) { cancel() })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("Do = %v after %d calls; want context.Canceled after 1", err, calls)
	}
}
