package rabbitmq

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/queue"
)

// FuzzEnvelopeCodec checks that encodeEnvelope writes what json.Marshal
// writes, that decodeEnvelope reads it back, and that any body the fast path
// accepts reads the same through encoding/json.
func FuzzEnvelopeCodec(f *testing.F) {
	id := uuid.MustParse("01a21fac-d44a-7924-9ed3-d601208bd170")
	f.Add(id[:], 7, "TALLY", int64(42), 0, []byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":7,"op":"TALLY","seq":42}`))
	f.Add(id[:], -1, `a"b\c<é>`, int64(-3), -2, []byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":007,"op":"X","seq":1}`))
	f.Add(id[:], 1<<40, "", int64(0), 8, []byte(`{"op":"X","chunk":1,"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170"}`))
	f.Add(id[:], 16, "TALLY", int64(3), 8, []byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":16,"op":"TALLY","seq":3,"count":0}`))
	f.Add(id[:], 16, "TALLY", int64(3), 8, []byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":16,"op":"TALLY","seq":3,"count":8,"count":2}`))
	f.Fuzz(func(t *testing.T, idBytes []byte, chunk int, op string, seq int64, count int, body []byte) {
		env := envelope{Seq: seq, Count: count}
		copy(env.JobID[:], idBytes)
		env.Chunk, env.Operation = chunk, op
		want, err := json.Marshal(env)
		if err != nil {
			t.Skip("not encodable")
		}
		got, err := encodeEnvelope(env)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeEnvelope(%+v) = %s, %v; json.Marshal writes %s", env, got, err, want)
		}
		var viaJSON envelope
		if err := json.Unmarshal(want, &viaJSON); err != nil {
			t.Fatalf("json.Unmarshal of its own %s: %v", want, err)
		}
		if back, err := decodeEnvelope(got); err != nil || back != viaJSON {
			t.Fatalf("decodeEnvelope(%s) = %+v, %v; want %+v", got, back, err, viaJSON)
		}
		if fast, ok := parsePlainEnvelope(body); ok {
			var slow envelope
			if err := json.Unmarshal(body, &slow); err != nil || slow != fast {
				t.Fatalf("fast path read %s as %+v; encoding/json: %+v, %v", body, fast, slow, err)
			}
		}
	})
}

// TestDecodeEnvelopeFallsBack reads bodies the fast path does not take,
// among them an earlier version's, whose seq was in a header.
func TestDecodeEnvelopeFallsBack(t *testing.T) {
	id := uuid.MustParse("01a21fac-d44a-7924-9ed3-d601208bd170")
	for body, seq := range map[string]int64{
		`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":3,"op":"TALLY"}`:                   0,
		`{"op":"TALLY","chunk":3,"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","seq":9}`:           9,
		`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170", "chunk":3, "op":"TALLY", "seq":9}`:        9,
		`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":3,"op":"TAL\u004cY","seq":9}`:      9,
		`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":3,"op":"TALLY","seq":9,"x":true}`:  9,
		`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":3,"op":"TALLY","seq":9,"count":0}`: 9,
	} {
		if _, fast := parsePlainEnvelope([]byte(body)); fast {
			t.Errorf("fast path took %s", body)
		}
		env, err := decodeEnvelope([]byte(body))
		if err != nil || env != (envelope{Message: queue.Message{JobID: id, Chunk: 3, Operation: "TALLY"}, Seq: seq}) {
			t.Errorf("decodeEnvelope(%s) = %+v, %v", body, env, err)
		}
	}
	packed := `{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":3,"op":"TALLY","seq":9,"count":4}`
	env, err := decodeEnvelope([]byte(packed))
	if _, fast := parsePlainEnvelope([]byte(packed)); !fast || err != nil || env.Count != 4 {
		t.Errorf("decodeEnvelope(%s) = %+v, %v (fast path %v); want 4 chunks", packed, env, err, fast)
	}
	if got := env.chunks(); len(got) != 4 || got[0].Chunk != 3 || got[3].Chunk != 6 || got[3].JobID != id || got[3].Operation != "TALLY" {
		t.Errorf("chunks of %s: %v; want chunks 3 to 6 of the job", packed, got)
	}
	if _, err := decodeEnvelope([]byte(`{"job_id":"nope"}`)); err == nil {
		t.Error("decodeEnvelope accepted a job id that is not a UUID")
	}
}

// BenchmarkDecodeEnvelope decodes a relay-written body with decodeEnvelope
// and with encoding/json in the same run and reports how many times faster
// the former is (json-over-fast).
func BenchmarkDecodeEnvelope(b *testing.B) {
	body, err := encodeEnvelope(envelope{Message: queue.Message{JobID: uuid.New(), Chunk: 12345, Operation: "DECRYPT_SHARE"}, Seq: 987654})
	if err != nil {
		b.Fatal(err)
	}
	timeLoop := func(decode func() error) time.Duration {
		start := time.Now()
		for range b.N {
			if err := decode(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	b.ResetTimer()
	fast := timeLoop(func() error { _, err := decodeEnvelope(body); return err })
	slow := timeLoop(func() error { var env envelope; return json.Unmarshal(body, &env) })
	b.ReportMetric(float64(slow)/float64(fast), "json-over-fast")
	b.ReportMetric(float64(fast.Nanoseconds())/float64(b.N), "fast-ns/op")
	b.ReportMetric(float64(slow.Nanoseconds())/float64(b.N), "json-ns/op")
}
