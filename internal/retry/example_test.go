package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tallyq/tallyq/internal/retry"
)

// A worker waits for its database at start, saying what it waits for.
func ExampleBackoff_Do() {
	up := 3 // the server answers at the third try
	tries := 0
	b := retry.Backoff{For: time.Minute, First: time.Millisecond, Max: 10 * time.Millisecond}
	err := b.Do(context.Background(), func(context.Context) error {
		tries++
		if tries < up {
			return errors.New("connection refused")
		}
		return nil
	}, func(err error, pause time.Duration) {
		fmt.Printf("waiting for the database: %v; next try in %s\n", err, pause)
	})
	fmt.Println("connected:", err == nil, "after", tries, "tries")
	// Output:
	// waiting for the database: connection refused; next try in 1ms
	// waiting for the database: connection refused; next try in 2ms
	// connected: true after 3 tries
}
