package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// tallyqProcess is a running tallyq subcommand (a worker, a server).
type tallyqProcess struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited; err is then set
	err    error
}

// workerArgs are the arguments of `tallyq worker` with that concurrency and
// memory budget.
func workerArgs(concurrency int, memoryBudget string) []string {
	return []string{"worker", "--concurrency", strconv.Itoa(concurrency), "--memory-budget", memoryBudget,
		"--log-level", "error", "--log-format", "text"}
}

// Processes says how a scenario starts tallyq processes (workers, a server).
type Processes struct {
	// Tallyq is the binary.
	Tallyq string `json:"tallyq"`
	// DatabaseURL is the processes' database; it holds a password, so it
	// stays out of the JSON.
	DatabaseURL string `json:"-"`
	// Output receives their stdout and stderr (nil: discarded).
	Output io.Writer `json:"-"`
}

// start runs `tallyq args...` on the database; env adds variables.
func (p Processes) start(args []string, env ...string) (*tallyqProcess, error) {
	cmd := exec.Command(p.Tallyq, args...)
	cmd.Env = append(append(os.Environ(), "TALLYQ_DATABASE_URL="+p.DatabaseURL), env...)
	if p.Output != nil {
		cmd.Stdout, cmd.Stderr = p.Output, p.Output
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", p.Tallyq, args[0], err)
	}
	w := &tallyqProcess{cmd: cmd, exited: make(chan struct{})}
	go func() {
		w.err = cmd.Wait()
		close(w.exited)
	}()
	return w, nil
}

// processStopTimeout bounds an idle process's exit after SIGTERM.
const processStopTimeout = time.Minute

// stop sends SIGTERM and waits for the process to exit cleanly.
func (w *tallyqProcess) stop() error {
	select {
	case <-w.exited:
		return w.err
	default:
	}
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop tallyq process: %w", err)
	}
	select {
	case <-w.exited:
		if w.err != nil {
			return fmt.Errorf("tallyq process after SIGTERM: %w", w.err)
		}
		return nil
	case <-time.After(processStopTimeout):
		_ = w.cmd.Process.Kill()
		<-w.exited
		return fmt.Errorf("tallyq process did not exit within %s of SIGTERM; killed", processStopTimeout)
	}
}
