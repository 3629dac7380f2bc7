package main

import (
	"io"
	"log/slog"
	"runtime"
	"testing"
)

func TestReserveServingProc(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	noEnv := func(string) (string, bool) { return "", false }
	explicit := func(k string) (string, bool) { return "2", k == "GOMAXPROCS" }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name         string
		procs, slots int
		lookupEnv    func(string) (string, bool)
		want         int
	}{
		{"as many slots as Ps: two more Ps", 2, 2, noEnv, 4},
		{"more slots than Ps: two more Ps than slots", 2, 4, noEnv, 6},
		{"one P to spare: two", 3, 2, noEnv, 4},
		{"two Ps to spare already", 8, 2, noEnv, 8},
		{"no in-process workers", 2, 0, noEnv, 2},
		{"GOMAXPROCS set explicitly", 2, 2, explicit, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			runtime.GOMAXPROCS(c.procs)
			reserveServingProc(c.slots, c.lookupEnv, logger)
			if got := runtime.GOMAXPROCS(0); got != c.want {
				t.Fatalf("GOMAXPROCS %d with %d slots: now %d, want %d", c.procs, c.slots, got, c.want)
			}
		})
	}
}
