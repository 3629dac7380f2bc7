//go:build !linux

package jobs

import "errors"

// lowerThreadPriority is supported on Linux only.
func lowerThreadPriority(int) error {
	return errors.New("per-thread priorities are supported on Linux only")
}
