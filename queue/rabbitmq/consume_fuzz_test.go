package rabbitmq

import (
	"math"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// FuzzDecodeDelivery feeds any body to decode, which reads every message a
// worker consumes: it refuses it or returns its chunks, each of its job and
// operation and numbered from 0 to 2^31-1 (a forged chunk near 2^63 once
// wrapped past the check).
func FuzzDecodeDelivery(f *testing.F) {
	f.Add([]byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":7,"op":"TALLY","seq":42}`))
	f.Add([]byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":16,"op":"TALLY","seq":3,"count":8}`))
	f.Add([]byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":2147483647,"op":"TALLY","seq":3,"count":1}`))
	f.Add([]byte(`{"job_id":"01a21fac-d44a-7924-9ed3-d601208bd170","chunk":9223372036854775806,"op":"TALLY","seq":3,"count":8}`))
	f.Add([]byte(`{"job_id":"00000000-0000-0000-0000-000000000000","chunk":1,"op":"","count":-1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := decode(amqp.Delivery{Body: body})
		if err != nil {
			return
		}
		if len(msgs) == 0 {
			t.Fatalf("%s: no chunks and no error", body)
		}
		for i, m := range msgs {
			if m.JobID != msgs[0].JobID || m.Operation != msgs[0].Operation || m.Chunk != msgs[0].Chunk+i || m.Chunk < 0 || m.Chunk > math.MaxInt32 {
				t.Fatalf("%s: chunk %d of the message is %s", body, i, m)
			}
		}
	})
}
