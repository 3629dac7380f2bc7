package deploy_test

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tallyq/tallyq/internal/seal"
)

// buildTallyq builds the tallyq binary into a temporary directory.
func buildTallyq(t *testing.T) string {
	t.Helper()
	gobin := lookTool(t, "go", "install Go (go.mod names the version)")
	bin := filepath.Join(t.TempDir(), "tallyq")
	cmd := exec.Command(gobin, "build", "-o", bin, "./cmd/tallyq")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tallyq: %v\n%s", err, out)
	}
	return bin
}

// helpFlag matches a flag line of `tallyq <command> -h`: the name, and the
// name of its value unless it is a boolean flag.
var helpFlag = regexp.MustCompile(`(?m)^  -([\w-]+)( \S+)?$`)

// commandHelp is what `tallyq <command> -h` says.
type commandHelp struct {
	text  string
	usage []string        // the words of its Usage line
	flags map[string]bool // flag name: whether it takes a value
}

func helpOf(t *testing.T, bin, command string) commandHelp {
	t.Helper()
	out, err := exec.Command(bin, command, "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("tallyq %s -h: %v\n%s", command, err, out)
	}
	h := commandHelp{text: string(out), flags: map[string]bool{}}
	first, _, _ := strings.Cut(h.text, "\n")
	h.usage = strings.FieldsFunc(first, func(r rune) bool { return r == ' ' || r == '|' })
	for _, m := range helpFlag.FindAllStringSubmatch(h.text, -1) {
		h.flags[m[1]] = m[2] != ""
	}
	return h
}

// TestComposeCommandsMatchCLI runs the tallyq binary as each tallyq service
// of docker-compose.yml does, so that the file cannot drift from the CLI:
// every flag and TALLYQ_* variable it sets exists, and the command accepts
// them all, getting as far as connecting to the (here unreachable) database.
func TestComposeCommandsMatchCLI(t *testing.T) {
	p, env := project(t)
	bin := buildTallyq(t)
	for _, name := range tallyqServices {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			if len(s.Command) == 0 {
				t.Fatal("no command")
			}
			help := helpOf(t, bin, s.Command[0])
			checkArgs(t, s.Command[1:], help)
			vars := environment(t, s)
			for k := range vars {
				// The sealing key is read from the environment only.
				if strings.HasPrefix(k, "TALLYQ_") && k != seal.EnvVar && !strings.Contains(help.text, "[$"+k+"]") {
					t.Errorf("%s sets %s, which `tallyq %s -h` does not list", name, k, s.Command[0])
				}
			}
			for _, broker := range []string{"river", "rabbitmq"} {
				if _, ok := vars["TALLYQ_BROKER"]; ok {
					vars["TALLYQ_BROKER"] = broker
				}
				runUntilDatabase(t, bin, s, vars)
			}
		})
	}
	if _, ok := env["TALLYQ_BROKER"]; !ok {
		t.Error(".env.example does not set TALLYQ_BROKER")
	}
}

// checkArgs checks the arguments after the subcommand against its help:
// each flag exists (skipping the value of a flag that takes one), and each
// other word appears in its Usage line.
func checkArgs(t *testing.T, args []string, help commandHelp) {
	t.Helper()
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			if !slices.Contains(help.usage, arg) {
				t.Errorf("argument %q is not in the usage %q", arg, help.usage)
			}
			continue
		}
		name, _, inline := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		takesValue, ok := help.flags[name]
		if !ok {
			t.Errorf("flag %s does not exist; the command has %v", arg, slices.Sorted(maps.Keys(help.flags)))
			continue
		}
		if takesValue && !inline {
			i++
		}
	}
}

// runUntilDatabase runs the service's command with its environment, the
// database moved to a closed local port and listen addresses to free ones,
// and wants it to fail connecting: every earlier check passed.
func runUntilDatabase(t *testing.T, bin string, s types.ServiceConfig, vars map[string]string) {
	t.Helper()
	db, err := url.Parse(vars["TALLYQ_DATABASE_URL"])
	if err != nil {
		t.Fatalf("TALLYQ_DATABASE_URL: %v", err)
	}
	db.Host = "127.0.0.1:1"
	var list []string
	for k, v := range vars {
		switch {
		case k == "TALLYQ_DATABASE_URL":
			v = db.String()
		case strings.HasSuffix(k, "_ADDR"):
			v = "127.0.0.1:0"
		}
		list = append(list, k+"="+v)
	}
	// Serve and worker would wait a minute for the database to come up.
	list = append(list, "TALLYQ_CONNECT_WAIT=0s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, s.Command...)
	cmd.Env = list
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "cannot reach the database") {
		t.Errorf("tallyq %s with %s's environment (broker %q): %v, want exit 1 on the unreachable database:\n%s",
			strings.Join(s.Command, " "), s.Name, vars["TALLYQ_BROKER"], err, out)
	}
}
