package rabbitmq

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/queue"
)

// A chunk message's body is queue.Message as encoding/json writes it. The
// relay encodes, and every consumer decodes, one per chunk, so both take a
// path without reflection for the bodies the relay writes; anything else
// (an operation name that JSON escapes, a body from another version) goes
// through encoding/json.

// The parts of a body in json.Marshal's field order.
var (
	bodyJobID = []byte(`{"job_id":"`)
	bodyChunk = []byte(`","chunk":`)
	bodyOp    = []byte(`,"op":"`)
	bodyEnd   = []byte(`"}`)
)

// encodeMessage returns m's body, byte for byte what json.Marshal(m) writes.
func encodeMessage(m queue.Message) ([]byte, error) {
	if !plainOperation(m.Operation) {
		return json.Marshal(m)
	}
	b := make([]byte, 0, len(bodyJobID)+36+len(bodyChunk)+20+len(bodyOp)+len(m.Operation)+len(bodyEnd))
	b = append(b, bodyJobID...)
	b = append(b, m.JobID.String()...)
	b = append(b, bodyChunk...)
	b = strconv.AppendInt(b, int64(m.Chunk), 10)
	b = append(b, bodyOp...)
	b = append(b, m.Operation...)
	return append(b, bodyEnd...), nil
}

// decodeMessage reads a chunk message's body.
func decodeMessage(body []byte) (queue.Message, error) {
	if m, ok := parsePlainMessage(body); ok {
		return m, nil
	}
	var m queue.Message
	err := json.Unmarshal(body, &m)
	return m, err
}

// parsePlainMessage reads a body in encodeMessage's form with a plain
// operation name; ok is false for any other.
func parsePlainMessage(body []byte) (m queue.Message, ok bool) {
	rest, ok := bytes.CutPrefix(body, bodyJobID)
	if !ok || len(rest) < 36 {
		return m, false
	}
	id, err := uuid.ParseBytes(rest[:36])
	if err != nil {
		return m, false
	}
	if rest, ok = bytes.CutPrefix(rest[36:], bodyChunk); !ok {
		return m, false
	}
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	// Leading zeros are not JSON; a number too large for int is refused.
	if digits == 0 || (digits > 1 && rest[0] == '0') {
		return m, false
	}
	chunk, err := strconv.Atoi(string(rest[:digits]))
	if err != nil {
		return m, false
	}
	if rest, ok = bytes.CutPrefix(rest[digits:], bodyOp); !ok {
		return m, false
	}
	op, ok := bytes.CutSuffix(rest, bodyEnd)
	if !ok || !plainOperation(string(op)) {
		return m, false
	}
	return queue.Message{JobID: id, Chunk: chunk, Operation: string(op)}, true
}

// plainOperation reports whether JSON writes op as it is: letters, digits,
// '_', '-' and '.'.
func plainOperation(op string) bool {
	for i := 0; i < len(op); i++ {
		c := op[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
