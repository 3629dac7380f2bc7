package rabbitmq

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/queue"
)

// FuzzMessageCodec checks that encodeMessage writes what json.Marshal
// writes, that decodeMessage reads it back, and that any body the fast path
// accepts reads the same through encoding/json.
func FuzzMessageCodec(f *testing.F) {
	id := uuid.MustParse("01a21fac-d44a-7924-9ed3-d601208bd170")
	f.Add(id[:], 7, "TALLY", []byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":7,"op":"TALLY"}`))
	f.Add(id[:], -1, `a"b\c<é>`, []byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":007,"op":"X"}`))
	f.Add(id[:], 1<<40, "", []byte(`{"op":"X","chunk":1,"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170"}`))
	f.Fuzz(func(t *testing.T, idBytes []byte, chunk int, op string, body []byte) {
		var m queue.Message
		copy(m.JobID[:], idBytes)
		m.Chunk, m.Operation = chunk, op
		want, err := json.Marshal(m)
		if err != nil {
			t.Skip("not encodable")
		}
		got, err := encodeMessage(m)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeMessage(%+v) = %s, %v; json.Marshal writes %s", m, got, err, want)
		}
		var viaJSON queue.Message
		if err := json.Unmarshal(want, &viaJSON); err != nil {
			t.Fatalf("json.Unmarshal of its own %s: %v", want, err)
		}
		if back, err := decodeMessage(got); err != nil || back != viaJSON {
			t.Fatalf("decodeMessage(%s) = %+v, %v; want %+v", got, back, err, viaJSON)
		}
		if fast, ok := parsePlainMessage(body); ok {
			var slow queue.Message
			if err := json.Unmarshal(body, &slow); err != nil || slow != fast {
				t.Fatalf("fast path read %s as %+v; encoding/json: %+v, %v", body, fast, slow, err)
			}
		}
	})
}

// TestDecodeMessageFallsBack reads bodies the fast path does not take.
func TestDecodeMessageFallsBack(t *testing.T) {
	id := uuid.MustParse("01a21fac-d44a-7924-9ed3-d601208bd170")
	for _, body := range []string{
		`{"op":"TALLY","chunk":3,"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170"}`,
		`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170", "chunk":3, "op":"TALLY"}`,
		`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":3,"op":"TAL\u004cY"}`,
	} {
		if _, fast := parsePlainMessage([]byte(body)); fast {
			t.Errorf("fast path took %s", body)
		}
		m, err := decodeMessage([]byte(body))
		if err != nil || m != (queue.Message{JobID: id, Chunk: 3, Operation: "TALLY"}) {
			t.Errorf("decodeMessage(%s) = %+v, %v", body, m, err)
		}
	}
	if _, err := decodeMessage([]byte(`{"job_id":"nope"}`)); err == nil {
		t.Error("decodeMessage accepted a job id that is not a UUID")
	}
}

// BenchmarkDecodeMessage decodes a relay-written body with decodeMessage and
// with encoding/json in the same run and reports how many times faster the
// former is (json-over-fast).
func BenchmarkDecodeMessage(b *testing.B) {
	body, err := encodeMessage(queue.Message{JobID: uuid.New(), Chunk: 12345, Operation: "DECRYPT_SHARE"})
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
	fast := timeLoop(func() error { _, err := decodeMessage(body); return err })
	slow := timeLoop(func() error { var m queue.Message; return json.Unmarshal(body, &m) })
	b.ReportMetric(float64(slow)/float64(fast), "json-over-fast")
	b.ReportMetric(float64(fast.Nanoseconds())/float64(b.N), "fast-ns/op")
	b.ReportMetric(float64(slow.Nanoseconds())/float64(b.N), "json-ns/op")
}
