package rabbitmq

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/queue"
)

// rangesOf covers each enqueued chunk exactly once, in runs of consecutive
// chunks per job and operation, whatever the order and repeats of msgs.
func TestRangesOf(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	var msgs []queue.Message
	add := func(id uuid.UUID, op string, chunks ...int) {
		for _, c := range chunks {
			msgs = append(msgs, queue.Message{JobID: id, Chunk: c, Operation: op})
		}
	}
	add(a, "TALLY", 0, 1, 2, 3, 7, 8, 2, 20)
	add(b, "TALLY", 5)
	add(a, "TALLY", 4, 9)
	add(a, "DECRYPT", 3)
	rand.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	got := rangesOf(msgs)
	want := []chunkRange{
		{jobID: a, operation: "DECRYPT", first: 3, end: 4},
		{jobID: a, operation: "TALLY", first: 0, end: 5},
		{jobID: a, operation: "TALLY", first: 7, end: 10},
		{jobID: a, operation: "TALLY", first: 20, end: 21},
		{jobID: b, operation: "TALLY", first: 5, end: 6},
	}
	slices.SortStableFunc(want, func(x, y chunkRange) int { return slices.Compare(x.jobID[:], y.jobID[:]) })
	if !slices.Equal(got, want) {
		t.Fatalf("rangesOf = %+v\nwant %+v", got, want)
	}
}

// share gives each job an equal part of the batch, within each queue's
// room, and hands what a job cannot use to the others.
func TestShare(t *testing.T) {
	big, small, other := [16]byte{1}, [16]byte{2}, [16]byte{3}
	picked := []outRange{
		{seq: 1, jobID: big, operation: "TALLY", next: 0, end: 10_000},
		{seq: 2, jobID: big, operation: "TALLY", next: 0, end: 5},
		{seq: 3, jobID: small, operation: "TALLY", next: 3, end: 6},
		{seq: 4, jobID: other, operation: "DECRYPT", next: 0, end: 1_000},
	}
	room := map[string]int{"TALLY": 600, "DECRYPT": 100}
	total := share(picked, room, 1000, 0)
	takes := []int32{picked[0].take, picked[1].take, picked[2].take, picked[3].take}
	// DECRYPT's queue takes 100; the small job its 3; the large one the
	// rest of TALLY's room, from its oldest range.
	if want := []int32{597, 0, 3, 100}; !slices.Equal(takes, want) || total != 700 {
		t.Fatalf("takes %v (total %d); want %v (700)", takes, total, want)
	}
	if room["TALLY"] != 0 || room["DECRYPT"] != 0 {
		t.Fatalf("room left %v; want none", room)
	}

	for i := range picked {
		picked[i].take = 0
	}
	if total := share(picked, map[string]int{"TALLY": 0, "DECRYPT": 0}, 1000, 0); total != 0 {
		t.Fatalf("full queues: %d taken", total)
	}
	if total := share(picked, map[string]int{"TALLY": 5000, "DECRYPT": 5000}, 9, 0); total != 9 || picked[0].take != 3 || picked[2].take != 3 || picked[3].take != 3 {
		t.Fatalf("a budget of 9 across 3 jobs: %+v", picked)
	}
	// Less room than jobs: the first'th job gets it.
	for i := range picked {
		picked[i].take = 0
	}
	if total := share(picked, map[string]int{"TALLY": 1, "DECRYPT": 0}, 1000, 1); total != 1 || picked[2].take != 1 {
		t.Fatalf("room for 1, from the second job: %+v", picked)
	}
}

// A packer fills messages while many chunks wait per slot, and shrinks
// them to one chunk each as the backlog drains: the last 2×slots chunks
// go one per message.
func TestPackerShrinksToOneChunkAtTheEnd(t *testing.T) {
	const slots, most, waiting = 4, 8, 200
	p := &packer{waiting: waiting, slots: slots, most: most}
	var sizes []int
	for p.waiting > 0 {
		n := min(p.size(), p.waiting)
		sizes = append(sizes, n)
		p.took(n)
	}
	sum := 0
	for _, n := range sizes {
		sum += n
	}
	if sum != waiting || sizes[0] != most {
		t.Fatalf("sizes %v: sum %d, first %d; want %d chunks, the first message full (%d)", sizes, sum, sizes[0], waiting, most)
	}
	if !slices.IsSortedFunc(sizes, func(a, b int) int { return b - a }) {
		t.Fatalf("sizes %v grow again", sizes)
	}
	tail := sizes[len(sizes)-2*slots:]
	if slices.Max(tail) != 1 {
		t.Fatalf("the last %d messages %v; want one chunk each", 2*slots, tail)
	}
	if len(sizes) > waiting/2 {
		t.Fatalf("%d messages for %d chunks; packing saved too little: %v", len(sizes), waiting, sizes)
	}
	if one := (&packer{waiting: waiting, slots: slots, most: 1}); one.size() != 1 {
		t.Fatalf("ChunksPerMessage 1 packs %d", one.size())
	}
}

// decode accepts 1 to maxChunksPerMessage chunks a message, numbered
// within int32, and refuses anything else with a reason.
func TestDecodeChunkCount(t *testing.T) {
	id := uuid.New()
	for _, c := range []struct {
		chunk, count int
		chunks       int // 0: refused
	}{
		{0, 0, 1}, {5, 1, 1}, {5, 8, 8}, {0, maxChunksPerMessage, maxChunksPerMessage},
		{0, maxChunksPerMessage + 1, 0}, {0, -1, 0}, {math.MaxInt32 - 2, 2, 2}, {math.MaxInt32 - 2, 3, 0},
	} {
		body, err := encodeEnvelope(envelope{Message: queue.Message{JobID: id, Chunk: c.chunk, Operation: "TALLY"}, Count: c.count})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := decode(amqp.Delivery{Body: body})
		switch {
		case c.chunks == 0 && (err == nil || !strings.Contains(err.Error(), "carries")):
			t.Errorf("chunk %d count %d: %v, %v; want refused, saying what the message carries", c.chunk, c.count, ms, err)
		case c.chunks > 0 && (err != nil || len(ms) != c.chunks || ms[0].Chunk != c.chunk):
			t.Errorf("chunk %d count %d: %v, %v; want %d chunks from %d", c.chunk, c.count, ms, err, c.chunks, c.chunk)
		}
	}
}
