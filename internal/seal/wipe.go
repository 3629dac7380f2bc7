package seal

import "runtime"

// Wipe overwrites b with zeros.
//
// It is a best effort, not a guarantee: Go may already have copied the bytes
// (a growing append, a string conversion, the garbage collector moving a
// stack, a json or big.Int encoding of the value), and Wipe cannot reach
// those copies. Callers therefore keep a secret in as few buffers as
// possible, never convert it to a string, and Wipe each buffer as soon as the
// secret in it is no longer needed.
func Wipe(b []byte) {
	clear(b)
	// Keep b reachable until the stores are done, so they are not dropped as
	// dead writes to memory nothing reads again.
	runtime.KeepAlive(b)
}
