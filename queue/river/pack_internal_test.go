package riverbroker

import (
	"math"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/queue"
)

// run is n consecutive chunk messages of one job from chunk first.
func run(job uuid.UUID, op string, first, n int) []queue.Message {
	out := make([]queue.Message, n)
	for i := range out {
		out[i] = queue.Message{JobID: job, Chunk: first + i, Operation: op}
	}
	return out
}

// pack puts each run in jobs of up to ChunksPerMessage chunks while more
// than two per PackSlots remain, shrinking to one; every message is carried
// once, in order; a break in the numbering, another job or another
// operation starts a new run.
func TestPackShrinksToOneChunkAtTheEnd(t *testing.T) {
	b := &Broker{cfg: Config{ChunksPerMessage: 8, PackSlots: 2}.withDefaults()}
	a, c := uuid.New(), uuid.New()
	msgs := slices.Concat(run(a, "T", 0, 40), run(a, "T", 41, 3), run(c, "T", 43, 2), run(c, "U", 45, 1))
	packed := b.pack(msgs)
	var sizes []int
	var got []queue.Message
	for _, p := range packed {
		ms, err := p.messages()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(ms))
		got = append(got, ms...)
	}
	// 40: 8 (40/4 = 10), 8 (32/4), 6 (24/4), 4 (18/4), 3, 2, 2, then 1 × 7;
	// then runs of 3, 2 and 1, too short to pack.
	want := append([]int{8, 8, 6, 4, 3, 2, 2}, slices.Repeat([]int{1}, 7+3+2+1)...)
	if !slices.Equal(sizes, want) {
		t.Errorf("sizes %v, want %v", sizes, want)
	}
	if !slices.Equal(got, msgs) {
		t.Errorf("the packed jobs carry %v, want %v", got, msgs)
	}
	one := &Broker{cfg: Config{ChunksPerMessage: 1}.withDefaults()}
	if n := len(one.pack(run(a, "T", 0, 10_000))); n != 10_000 {
		t.Errorf("ChunksPerMessage 1 makes %d jobs of 10000 chunks", n)
	}
}

// messages refuses a count below 0 or over maxChunksPerMessage, a negative
// chunk, and numbering past int32; Count 0 and 1 are one chunk.
func TestMessagesRefusesForeignArguments(t *testing.T) {
	for _, c := range []struct {
		chunk, count, want int
	}{
		{0, 0, 1}, {5, 1, 1}, {5, 8, 8}, {0, maxChunksPerMessage, maxChunksPerMessage},
		{0, maxChunksPerMessage + 1, 0}, {0, -1, 0}, {-1, 1, 0}, {math.MaxInt32 - 2, 3, 3}, {math.MaxInt32 - 2, 4, 0},
	} {
		ms, err := chunkArgs{Message: queue.Message{Chunk: c.chunk}, Count: c.count}.messages()
		if (err == nil) != (c.want > 0) || len(ms) != c.want {
			t.Errorf("chunk %d count %d: %d messages, error %v; want %d", c.chunk, c.count, len(ms), err, c.want)
			continue
		}
		for i, m := range ms {
			if m.Chunk != c.chunk+i {
				t.Errorf("chunk %d count %d: message %d is chunk %d", c.chunk, c.count, i, m.Chunk)
			}
		}
	}
}

// FuzzChunkArgs feeds arguments no broker wrote to messages: it refuses
// them or returns Count (at least 1) consecutive chunks, every one of them
// numbered from 0 to 2^31-1 (a chunk near 2^63 once wrapped past the check).
func FuzzChunkArgs(f *testing.F) {
	f.Add(0, 0)
	f.Add(7, 8)
	f.Add(math.MaxInt32, 1)
	f.Add(math.MaxInt32-3, 8)
	f.Add(math.MaxInt64-2, 8)
	f.Add(-1, 2)
	f.Fuzz(func(t *testing.T, chunk, count int) {
		a := chunkArgs{Message: queue.Message{JobID: uuid.New(), Chunk: chunk, Operation: "T"}, Count: count}
		msgs, err := a.messages()
		if err != nil {
			return
		}
		if len(msgs) != max(1, count) {
			t.Fatalf("chunk %d count %d: %d messages", chunk, count, len(msgs))
		}
		for i, m := range msgs {
			if m.Chunk != chunk+i || m.Chunk < 0 || m.Chunk > math.MaxInt32 {
				t.Fatalf("chunk %d count %d: message %d is chunk %d", chunk, count, i, m.Chunk)
			}
		}
	})
}
