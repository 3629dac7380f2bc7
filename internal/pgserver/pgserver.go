// Package pgserver starts, crashes and stops private PostgreSQL servers for
// tests and benchmarks. It runs scripts/postgres.sh, the script that
// `make run` and `make test` use, so that there is one way to run Postgres
// here: as the postgres user when the caller is root, on a free loopback port,
// with password authentication and a database named tallyq.
package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNotInstalled is returned when PostgreSQL's binaries are not installed.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (Debian: apt-get install -y postgresql)")

// Options configures Start.
type Options struct {
	// Fsync turns fsync and full_page_writes on, as in production;
	// benchmarks want it. Off is faster and fine for a server whose data
	// nobody keeps: synchronous_commit stays on, so a commit survives Crash
	// (a killed server), though not a machine crash.
	Fsync bool
	// Throwaway destroys the server once this process exits, even when it is
	// killed before it could call Destroy.
	Throwaway bool
	// Script is the path of postgres.sh; empty means scripts/postgres.sh of
	// the module that contains the working directory.
	Script string
}

// Server is a private Postgres managed by scripts/postgres.sh.
type Server struct {
	dir    string
	script string
	url    string
}

// Start starts the server kept in dir, initialising dir first when it holds
// none, and waits until it accepts connections. A dir that already holds a
// server is reused, on the same port when that is still free.
func Start(ctx context.Context, dir string, opts Options) (*Server, error) {
	script, err := scriptPath(opts.Script)
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, script: script}
	fsync := "off"
	if opts.Fsync {
		fsync = "on"
	}
	args := []string{"--fsync", fsync}
	if opts.Throwaway {
		args = append(args, "--watch-pid", strconv.Itoa(os.Getpid()))
	}
	if err := s.start(ctx, args...); err != nil {
		return nil, err
	}
	return s, nil
}

// Attach returns the server kept in dir, which scripts/postgres.sh started
// earlier (scripts/with-servers.sh exports its dir as TALLYQ_TEST_PG_DIR).
// It does not start the server.
func Attach(ctx context.Context, dir, script string) (*Server, error) {
	script, err := scriptPath(script)
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, script: script}
	url, err := s.run(ctx, "url")
	if err != nil {
		return nil, err
	}
	s.url = url
	return s, nil
}

// URL returns the superuser URL of the server's tallyq database. It changes
// only when Restart had to move to another port.
func (s *Server) URL() string { return s.url }

// Dir returns the directory the server is kept in, as given to Start.
func (s *Server) Dir() string { return s.dir }

// Stop shuts the server down cleanly; its data stays for Restart.
func (s *Server) Stop(ctx context.Context) error {
	_, err := s.run(ctx, "stop")
	return err
}

// Crash stops the server the way a power cut would (pg_ctl stop -m
// immediate): no shutdown checkpoint, so Restart runs crash recovery.
// Connections to it fail at once.
func (s *Server) Crash(ctx context.Context) error {
	_, err := s.run(ctx, "crash")
	return err
}

// Restart starts the stopped or crashed server again with its data, on the
// same port when that is still free; URL tells the port it got.
func (s *Server) Restart(ctx context.Context) error {
	return s.start(ctx)
}

// Running reports whether the server accepts connections.
func (s *Server) Running(ctx context.Context) (bool, error) {
	_, err := s.run(ctx, "status")
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		return false, nil
	}
	return false, err
}

// Destroy stops the server and deletes its data.
func (s *Server) Destroy(ctx context.Context) error {
	_, err := s.run(ctx, "destroy")
	return err
}

func (s *Server) start(ctx context.Context, args ...string) error {
	url, err := s.run(ctx, "start", args...)
	if err != nil {
		return err
	}
	s.url = url
	return nil
}

// run runs the script and returns the last line it printed on stdout.
func (s *Server) run(ctx context.Context, verb string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{s.script, verb, s.dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 5 {
			return "", ErrNotInstalled
		}
		return "", fmt.Errorf("scripts/postgres.sh %s %s: %w: %s", verb, s.dir, err, strings.TrimSpace(stderr.String()))
	}
	out := strings.TrimSpace(stdout.String())
	return out[strings.LastIndexByte(out, '\n')+1:], nil
}

func scriptPath(script string) (string, error) {
	if script != "" {
		return script, nil
	}
	return Script("postgres.sh")
}

// Script returns the path of scripts/name in the module that contains the
// working directory, e.g. Script("rabbitmq.sh") to Attach a RabbitMQ node,
// which that script runs with the same verbs.
func Script(name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "scripts", name), nil
}

// ModuleRoot returns the directory holding go.mod, found by walking up from
// the working directory (a package directory when go test runs).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory; run from inside the tallyq checkout")
		}
		dir = parent
	}
}
