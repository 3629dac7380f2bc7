package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTimes is CPU time used so far by this process and by the Postgres
// server processes of this machine.
type cpuTimes struct {
	self, postgres time.Duration
}

// CPUCost is CPU time per unit of work, split by process.
type CPUCost struct {
	// SelfMicros is this process's CPU per chunk, in microseconds.
	SelfMicros float64 `json:"selfMicrosPerChunk"`
	// PostgresMicros is the Postgres processes' CPU per chunk (0 when
	// /proc cannot be read).
	PostgresMicros float64 `json:"postgresMicrosPerChunk"`
}

func readCPU() cpuTimes {
	var ru syscall.Rusage
	var t cpuTimes
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		t.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	t.postgres = postgresCPU()
	return t
}

// costPer spreads the CPU used since start over n chunks.
func costPer(start cpuTimes, n int) CPUCost {
	end := readCPU()
	return CPUCost{
		SelfMicros:     float64((end.self - start.self).Microseconds()) / float64(n),
		PostgresMicros: float64((end.postgres - start.postgres).Microseconds()) / float64(n),
	}
}

// postgresCPU sums user and system time of every process named postgres.
func postgresCPU() time.Duration { return processCPU("postgres") }

// processCPU sums user and system time of every process of the given name
// (Linux /proc; clock ticks assumed 100 per second, as on every Linux
// this runs on).
func processCPU(name string) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open || s[open+1:closing] != name {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(fields[11], 10, 64)
		sys, _ := strconv.ParseInt(fields[12], 10, 64)
		ticks += u + sys
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
