package deploy_test

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tallyq/tallyq/internal/pgserver"
)

// The services of docker-compose.yml, and those that run the tallyq image.
var (
	composeServices = []string{"api", "grafana", "migrate", "postgres", "prometheus", "rabbitmq", "worker"}
	tallyqServices  = []string{"api", "migrate", "worker"}
)

// secretVars are the variables of .env that hold secrets: .env.example leaves
// them empty and docker-compose.yml refuses to start without them.
var secretVars = []string{"POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "TALLYQ_ADMIN_TOKEN", "TALLYQ_SECRET_KEY", "GRAFANA_ADMIN_PASSWORD"}

// repoRoot returns the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := pgserver.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// repoFile returns the path of a file of the repository, given relative to
// its root with slashes.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), filepath.FromSlash(rel))
}

// readRepoFile returns the content of a file of the repository.
func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lookTool returns the path of an external program the test needs; when it
// is missing the test is skipped, or fails when CI=true (CI installs it).
func lookTool(t *testing.T, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, name+" is not installed: "+install)
	}
	return path
}

// skipOrFail skips the test for want of something outside the repository,
// or fails it when CI=true, where everything must be there.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// exampleEnv returns the variables of .env.example as they are, secrets empty.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := dotenv.Read(repoFile(t, ".env.example"))
	if err != nil {
		t.Fatalf("read .env.example: %v", err)
	}
	return env
}

// generatedEnv returns the variables of a .env written by deploy/make-env.sh,
// as an operator following the quick start has them: .env.example with a
// fresh random value for each secret.
func generatedEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := dotenv.Read(makeEnv(t))
	if err != nil {
		t.Fatalf("read the .env of make-env.sh: %v", err)
	}
	return env
}

// makeEnv runs deploy/make-env.sh and returns the path of the .env it wrote.
func makeEnv(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	cmd := exec.Command("sh", repoFile(t, "deploy/make-env.sh"), path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/make-env.sh: %v\n%s", err, out)
	}
	return path
}

// loadCompose loads docker-compose.yml as `docker compose` does with env as
// the content of .env (and nothing from this process's environment):
// interpolated, validated against the compose schema, paths resolved.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	var list []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		list = append(list, k+"="+env[k])
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(list),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// project is loadCompose of the quick start's .env, failing the test when
// the file does not load.
func project(t *testing.T) (*types.Project, map[string]string) {
	t.Helper()
	env := generatedEnv(t)
	p, err := loadCompose(t, env)
	if err != nil {
		t.Fatalf("load docker-compose.yml with the .env of deploy/make-env.sh: %v", err)
	}
	return p, env
}

// service returns the named service of p, failing the test when it has none.
func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// environment returns a service's environment; a variable without a value
// (inherited from the shell of `docker compose`) fails the test, since the
// deployment must not depend on it.
func environment(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("service %s: environment variable %s has no value", s.Name, k)
			continue
		}
		env[k] = *v
	}
	return env
}

// bindMounts returns a service's bind mounts by target, their sources
// relative to the repository root with slashes.
func bindMounts(t *testing.T, s types.ServiceConfig) map[string]types.ServiceVolumeConfig {
	t.Helper()
	root := repoRoot(t)
	mounts := map[string]types.ServiceVolumeConfig{}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		rel, err := filepath.Rel(root, v.Source)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Errorf("service %s mounts %s, which is outside the repository", s.Name, v.Source)
			continue
		}
		v.Source = filepath.ToSlash(rel)
		mounts[v.Target] = v
	}
	return mounts
}
