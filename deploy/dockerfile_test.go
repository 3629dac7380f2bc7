package deploy_test

import (
	"bufio"
	"cmp"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dockerStage is one FROM ... stage of a Dockerfile.
type dockerStage struct {
	from, name string
	// instructions are the stage's instructions after FROM, upper-case
	// keyword first, continuation lines joined.
	instructions [][2]string
}

// find returns the arguments of every instruction of the stage with the
// keyword.
func (s dockerStage) find(keyword string) []string {
	var args []string
	for _, in := range s.instructions {
		if in[0] == keyword {
			args = append(args, in[1])
		}
	}
	return args
}

// parseDockerfile returns the ARG defaults declared before the first FROM
// and the stages, with ARG references in FROM expanded.
func parseDockerfile(t *testing.T, text string) (map[string]string, []dockerStage) {
	t.Helper()
	args := map[string]string{}
	var stages []dockerStage
	var logical string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if logical == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			logical += cont + " "
			continue
		}
		logical += line
		keyword, rest, _ := strings.Cut(logical, " ")
		keyword, rest = strings.ToUpper(keyword), strings.TrimSpace(rest)
		logical = ""
		switch {
		case keyword == "FROM":
			fields := strings.Fields(rest)
			st := dockerStage{from: os.Expand(fields[0], func(k string) string { return args[k] })}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
		case len(stages) == 0 && keyword == "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case len(stages) == 0:
			t.Fatalf("Dockerfile: %s before the first FROM", keyword)
		default:
			last := &stages[len(stages)-1]
			last.instructions = append(last.instructions, [2]string{keyword, rest})
		}
	}
	if logical != "" {
		t.Fatalf("Dockerfile ends in a continued line: %q", logical)
	}
	return args, stages
}

func TestDockerfile(t *testing.T) {
	args, stages := parseDockerfile(t, readRepoFile(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// The builder's Go is the one go.mod asks for.
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if want := "golang:" + goVersion[1]; build.from != want {
		t.Errorf("build stage FROM %q (ARGs %v), want %q as go.mod says", build.from, args, want)
	}
	// cgo off in the go build command's own environment: a static binary.
	staticBuild := regexp.MustCompile(`\bCGO_ENABLED=0 +(\w+=\S+ +)*go build [^&;|]*-trimpath [^&;|]*\./cmd/tallyq\b`)
	if !slices.ContainsFunc(build.find("RUN"), staticBuild.MatchString) {
		t.Errorf("build stage has no RUN with CGO_ENABLED=0 go build -trimpath ./cmd/tallyq: %q", build.find("RUN"))
	}

	// The final stage holds the binary only and runs it as a numeric,
	// non-root user.
	if copies := final.find("COPY"); len(copies) != 1 || !strings.HasPrefix(copies[0], "--from="+build.name+" ") {
		t.Errorf("final stage copies %q, want the binary from stage %q only", copies, build.name)
	}
	users := final.find("USER")
	if len(users) == 0 {
		t.Fatal("final stage has no USER: it would run as root")
	}
	user := users[len(users)-1]
	uid, gid, _ := strings.Cut(user, ":")
	for _, id := range []string{uid, cmp.Or(gid, uid)} {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("final stage USER %q: want numeric non-zero uid and gid (runAsNonRoot can only check numbers)", user)
		}
	}
	var ports []string
	for _, e := range final.find("EXPOSE") {
		ports = append(ports, strings.Fields(e)...)
	}
	for _, want := range []string{"8080", "9090"} {
		if !slices.Contains(ports, want) {
			t.Errorf("final stage exposes %v, want %s", ports, want)
		}
	}
	entry := final.find("ENTRYPOINT")
	var argv []string
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0]), &argv) != nil || len(argv) != 1 || path.Base(argv[0]) != "tallyq" {
		t.Errorf("ENTRYPOINT %q, want the exec form running tallyq alone", entry)
	}

	// docker-compose.yml's healthchecks run wget in this image: busybox
	// has it, distroless has nothing to run.
	if base, _, _ := strings.Cut(final.from, ":"); base != "alpine" && base != "busybox" {
		t.Errorf("final stage FROM %q: the api healthcheck needs busybox wget (alpine or busybox)", final.from)
	}
}

func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	gobin := lookTool(t, "go", "install Go (go.mod names the version)")
	root := repoRoot(t)
	patterns := dockerignorePatterns(t)
	for _, want := range []string{".git", ".env", "bin", ".tallyq"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}

	// Every file `go build ./cmd/tallyq` reads must reach the builder.
	cmd := exec.Command(gobin, "list", "-deps", "-f",
		`{{if not .Standard}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{range .EmbedFiles}}|{{.}}{{end}}{{end}}`, "./cmd/tallyq")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	inputs := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, files, _ := strings.Cut(line, "|")
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, downloaded in the builder
		}
		for _, f := range strings.Split(files, "|") {
			inputs = append(inputs, path.Join(filepath.ToSlash(rel), f))
		}
	}
	for _, f := range inputs {
		if p, excluded := dockerignored(f, patterns); excluded {
			t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, f)
		}
	}
}

// dockerignorePatterns returns the patterns of .dockerignore, without the
// slashes at either end (the file is relative to the context root anyway).
func dockerignorePatterns(t *testing.T) []string {
	t.Helper()
	var patterns []string
	for _, line := range strings.Split(readRepoFile(t, ".dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exceptions (%q) are beyond what this test matches", line)
		}
		patterns = append(patterns, strings.Trim(line, "/"))
	}
	return patterns
}

// dockerignored reports whether a file (relative, with slashes) or one of
// its parent directories matches a pattern, as Docker's matcher does for
// patterns of plain globs and a leading **/.
func dockerignored(file string, patterns []string) (string, bool) {
	parts := strings.Split(file, "/")
	for _, p := range patterns {
		rest, anyDepth := strings.CutPrefix(p, "**/")
		for end := 1; end <= len(parts); end++ {
			starts := []int{0}
			if anyDepth {
				starts = make([]int, end)
				for i := range starts {
					starts[i] = i
				}
			}
			for _, start := range starts {
				if ok, _ := path.Match(rest, strings.Join(parts[start:end], "/")); ok {
					return p, true
				}
			}
		}
	}
	return "", false
}
