package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

func TestEnvFileNotCommitted(t *testing.T) {
	git := lookTool(t, "git", "apt-get install git")
	cmd := exec.Command(git, "ls-files", "--", ".env", "**/.env")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		skipOrFail(t, "git ls-files: "+err.Error()+" (not a git checkout?)")
	}
	if files := strings.Fields(string(out)); len(files) > 0 {
		t.Errorf("the repository tracks %v; secrets belong in an untracked .env (see .env.example)", files)
	}
	for _, ignore := range []string{".gitignore", ".dockerignore"} {
		if !slices.Contains(strings.Fields(readRepoFile(t, ignore)), "/.env") &&
			!slices.Contains(strings.Fields(readRepoFile(t, ignore)), ".env") {
			t.Errorf("%s does not exclude .env", ignore)
		}
	}
}

// secretLooking matches a value that could be a real secret: a long run of
// hex or base64 characters.
var secretLooking = regexp.MustCompile(`[0-9A-Za-z+/_-]{20,}`)

func TestEnvExampleHoldsNoSecret(t *testing.T) {
	env := exampleEnv(t)
	for _, name := range secretVars {
		v, ok := env[name]
		if !ok {
			t.Errorf(".env.example lacks %s", name)
		} else if v != "" {
			t.Errorf(".env.example gives %s a value; leave secrets empty, so that compose refuses to start without real ones", name)
		}
	}
	for k, v := range env {
		if secretLooking.MatchString(v) {
			t.Errorf(".env.example: %s = %q looks like a secret", k, v)
		}
	}
	if !strings.Contains(readRepoFile(t, ".env.example"), "openssl rand -hex 32") {
		t.Error(".env.example does not say how to make a secret (openssl rand -hex 32)")
	}
}

// composeVar matches a variable that docker-compose.yml interpolates.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

func TestEnvExampleListsEveryComposeVariable(t *testing.T) {
	listed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(readRepoFile(t, ".env.example")))
	for sc.Scan() {
		// "NAME=value" or, for an optional one, "# NAME=default".
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "# ")
		if name, _, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(name, " \t") {
			listed[name] = true
		}
	}
	for _, m := range composeVar.FindAllStringSubmatch(readRepoFile(t, "docker-compose.yml"), -1) {
		if !listed[m[1]] {
			t.Errorf("docker-compose.yml reads ${%s}, which .env.example does not list", m[1])
		}
	}
}

func TestMakeEnv(t *testing.T) {
	example := exampleEnv(t)
	path := makeEnv(t)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		t.Errorf("make-env.sh wrote a file of mode %v, want it readable by its owner only", info.Mode().Perm())
	}
	env, err := dotenv.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := map[string]string{}
	for k, v := range example {
		switch {
		case v != "" && env[k] != v:
			t.Errorf("%s = %q, want .env.example's %q", k, env[k], v)
		case v == "" && !hex64.MatchString(env[k]):
			t.Errorf("%s = %q, want 64 hex digits", k, env[k])
		case v == "":
			if other, dup := seen[env[k]]; dup {
				t.Errorf("%s and %s got the same secret", k, other)
			}
			seen[env[k]] = k
		}
	}
	if len(env) != len(example) {
		t.Errorf(".env has %d variables, .env.example %d", len(env), len(example))
	}

	// It never overwrites a .env, whose secrets the data depends on.
	path = filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("KEEP=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", repoFile(t, "deploy/make-env.sh"), path).CombinedOutput(); err == nil {
		t.Errorf("make-env.sh overwrote an existing file:\n%s", out)
	}
	if b, _ := os.ReadFile(path); string(b) != "KEEP=1\n" {
		t.Errorf("the existing file now holds %q", b)
	}
}
