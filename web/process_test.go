package web_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tallyq/tallyq/internal/logline"
	"github.com/tallyq/tallyq/internal/pgserver"
)

// processWait bounds how long a process may take to log a line or to stop.
const processWait = time.Minute

// buildTallyq builds cmd/tallyq into a temporary directory, with the race
// detector when this test binary has it.
func buildTallyq(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH, and the test builds the tallyq binary with it: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "tallyq")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, "./cmd/tallyq")...)
	root, err := pgserver.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tallyq: %v\n%s", err, out)
	}
	return bin
}

// environ is a minimal environment for tallyq: JSON logs and vars.
func environ(vars map[string]string) []string {
	env := []string{"TALLYQ_LOG_FORMAT=json", "PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// runTallyq runs a tallyq command to its end and returns its stdout; a
// non-zero exit fails the test.
func runTallyq(t *testing.T, bin string, vars map[string]string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = environ(vars)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tallyq %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// process is a tallyq command running in the background, its JSON log
// lines collected as they come.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once stderr is drained
	more   chan struct{} // signalled after each line

	mu    sync.Mutex
	lines []map[string]any
	raw   []string
}

// startTallyq starts a tallyq command; the test's end kills it if it still runs.
func startTallyq(t *testing.T, bin string, vars map[string]string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = environ(vars)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tallyq %s: %v", args[0], err)
	}
	p := &process{name: args[0], cmd: cmd, exited: make(chan struct{}), more: make(chan struct{}, 1)}
	go p.collect(stderr)
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		_ = cmd.Wait()
	})
	return p
}

func (p *process) collect(r io.Reader) {
	defer close(p.exited)
	logline.Scan(r, func(line map[string]any, raw string) {
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.raw = append(p.raw, raw)
		p.mu.Unlock()
		select {
		case p.more <- struct{}{}:
		default:
		}
	})
}

// waitLog returns the first log line whose message is msg, failing the test
// if the process ends or processWait passes first.
func (p *process) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	timeout := time.After(processWait)
	for seen := 0; ; {
		p.mu.Lock()
		lines := p.lines[seen:]
		seen = len(p.lines)
		p.mu.Unlock()
		for _, line := range lines {
			if line["msg"] == msg {
				return line
			}
		}
		select {
		case <-p.more:
		case <-p.exited:
			// Lines may have come between the last look and the end.
			select {
			case <-p.more:
				continue
			default:
			}
			t.Fatalf("tallyq %s ended before logging %q:\n%s", p.name, msg, p.log())
		case <-timeout:
			t.Fatalf("tallyq %s logged no %q within %s:\n%s", p.name, msg, processWait, p.log())
		}
	}
}

// log returns the lines logged so far.
func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.raw, "\n")
}

// stop sends SIGTERM and returns the exit status.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal tallyq %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(processWait):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("tallyq %s did not stop within %s of SIGTERM", p.name, processWait)
	}
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("tallyq %s: %v", p.name, err)
	}
	return 0
}
