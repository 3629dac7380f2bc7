package rabbitmq

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/queue"
)

// A chunk message's body is an envelope as encoding/json writes it. The
// relay encodes, and every consumer decodes, one per chunk, so both take a
// path without reflection for the bodies the relay writes; anything else
// (an operation name that JSON escapes, a body from another version) goes
// through encoding/json.
//
// The seq rides in the body rather than in a header, and messages carry no
// other properties: headers and properties cost the node about a quarter
// more CPU per message (bench/NOTES.md).

// envelope is a chunk message's body: the message, the seq of the outbox
// range it was published from, which tells a message published again from
// its first publishing when one traces duplicates (0: none, as in messages
// of earlier versions, which carried it in a header), and how many
// consecutive chunks from Message.Chunk on it carries (0 and 1: one).
type envelope struct {
	queue.Message
	Seq   int64 `json:"seq"`
	Count int   `json:"count,omitempty"`
}

// maxChunksPerMessage bounds Config.ChunksPerMessage, and the count a
// consumer accepts in a message.
const maxChunksPerMessage = 256

// chunks returns the messages of the chunks env carries.
func (env envelope) chunks() []queue.Message {
	ms := make([]queue.Message, max(env.Count, 1))
	for i := range ms {
		ms[i] = env.Message
		ms[i].Chunk += i
	}
	return ms
}

// The parts of a body in json.Marshal's field order.
var (
	bodyJobID = []byte(`{"job_id":"`)
	bodyChunk = []byte(`","chunk":`)
	bodyOp    = []byte(`,"op":"`)
	bodySeq   = []byte(`","seq":`)
	bodyCount = []byte(`,"count":`)
	bodyEnd   = []byte(`}`)
)

// encodeEnvelope returns env's body, byte for byte what json.Marshal(env)
// writes.
func encodeEnvelope(env envelope) ([]byte, error) {
	m := env.Message
	if !plainOperation(m.Operation) {
		return json.Marshal(env)
	}
	b := make([]byte, 0, len(bodyJobID)+36+len(bodyChunk)+20+len(bodyOp)+len(m.Operation)+len(bodySeq)+20+len(bodyCount)+20+len(bodyEnd))
	b = append(b, bodyJobID...)
	b = append(b, m.JobID.String()...)
	b = append(b, bodyChunk...)
	b = strconv.AppendInt(b, int64(m.Chunk), 10)
	b = append(b, bodyOp...)
	b = append(b, m.Operation...)
	b = append(b, bodySeq...)
	b = strconv.AppendInt(b, env.Seq, 10)
	if env.Count != 0 {
		b = append(b, bodyCount...)
		b = strconv.AppendInt(b, int64(env.Count), 10)
	}
	return append(b, bodyEnd...), nil
}

// decodeEnvelope reads a chunk message's body.
func decodeEnvelope(body []byte) (envelope, error) {
	if env, ok := parsePlainEnvelope(body); ok {
		return env, nil
	}
	var env envelope
	err := json.Unmarshal(body, &env)
	return env, err
}

// parsePlainEnvelope reads a body in encodeEnvelope's form with a plain
// operation name; ok is false for any other.
func parsePlainEnvelope(body []byte) (env envelope, ok bool) {
	rest, ok := bytes.CutPrefix(body, bodyJobID)
	if !ok || len(rest) < 36 {
		return env, false
	}
	id, err := uuid.ParseBytes(rest[:36])
	if err != nil {
		return env, false
	}
	if rest, ok = bytes.CutPrefix(rest[36:], bodyChunk); !ok {
		return env, false
	}
	chunk, rest, ok := cutNatural(rest)
	if !ok {
		return env, false
	}
	if rest, ok = bytes.CutPrefix(rest, bodyOp); !ok {
		return env, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || !plainOperation(string(rest[:end])) {
		return env, false
	}
	op := string(rest[:end])
	if rest, ok = bytes.CutPrefix(rest[end:], bodySeq); !ok {
		return env, false
	}
	seq, rest, ok := cutNatural(rest)
	if !ok {
		return env, false
	}
	var count int64
	if after, found := bytes.CutPrefix(rest, bodyCount); found {
		if count, rest, ok = cutNatural(after); !ok || count == 0 {
			return env, false // a zero count is omitted, so not written by the relay
		}
	}
	if !bytes.Equal(rest, bodyEnd) {
		return env, false
	}
	return envelope{Message: queue.Message{JobID: id, Chunk: int(chunk), Operation: op}, Seq: seq, Count: int(count)}, true
}

// cutNatural reads a JSON number without sign, fraction or exponent that
// fits an int from the start of b, and returns the rest.
func cutNatural(b []byte) (n int64, rest []byte, ok bool) {
	digits := 0
	for digits < len(b) && b[digits] >= '0' && b[digits] <= '9' {
		digits++
	}
	// Leading zeros are not JSON.
	if digits == 0 || (digits > 1 && b[0] == '0') {
		return 0, b, false
	}
	n, err := strconv.ParseInt(string(b[:digits]), 10, strconv.IntSize)
	if err != nil {
		return 0, b, false
	}
	return n, b[digits:], true
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
