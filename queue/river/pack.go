package riverbroker

import (
	"fmt"
	"math"

	"github.com/tallyq/tallyq/queue"
)

// DefaultChunksPerMessage is Config.ChunksPerMessage's default.
const DefaultChunksPerMessage = 8

// maxChunksPerMessage bounds Config.ChunksPerMessage and what a River job's
// arguments may claim to carry.
const maxChunksPerMessage = 256

// DefaultPackSlots is Config.PackSlots's default.
const DefaultPackSlots = 64

// pack turns messages into River job arguments: a run of consecutive chunks
// of one job goes in jobs of up to ChunksPerMessage chunks while more than
// two per PackSlots remain in the run, shrinking to one chunk a job as the
// run ends. River's cost is per job (its insert, fetch and completion), an
// engine's claims and commits are batched across chunks anyway, and a run
// that long keeps every slot of the deployment busy twice over: a slot that
// takes a job of several chunks delays no other slot.
func (b *Broker) pack(msgs []queue.Message) []chunkArgs {
	out := make([]chunkArgs, 0, len(msgs))
	for i := 0; i < len(msgs); {
		left := runLength(msgs[i:])
		for left > 0 {
			n := min(b.cfg.ChunksPerMessage, max(1, left/(2*b.cfg.PackSlots)))
			a := chunkArgs{Message: msgs[i]}
			if n > 1 {
				a.Count = n
			}
			out = append(out, a)
			i, left = i+n, left-n
		}
	}
	return out
}

// runLength is how many messages from msgs[0] on are consecutive chunks of
// one job.
func runLength(msgs []queue.Message) int {
	n := 1
	for n < len(msgs) && msgs[n].JobID == msgs[0].JobID && msgs[n].Operation == msgs[0].Operation &&
		msgs[n].Chunk == msgs[n-1].Chunk+1 {
		n++
	}
	return n
}

// messages returns the chunk messages a River job carries, or an error for
// arguments no broker wrote: a count below 0 or over maxChunksPerMessage,
// or chunk numbers past int32.
func (a chunkArgs) messages() ([]queue.Message, error) {
	n := max(1, a.Count)
	if a.Count < 0 || a.Count > maxChunksPerMessage || a.Chunk < 0 || a.Chunk > math.MaxInt32-(n-1) {
		return nil, fmt.Errorf("River job arguments of chunk %d with count %d are not a chunk message of this broker", a.Chunk, a.Count)
	}
	out := make([]queue.Message, n)
	for i := range out {
		out[i] = a.Message
		out[i].Chunk += i
	}
	return out, nil
}
