package deploy_test

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRabbitMQConsumerTimeout(t *testing.T) {
	p, _ := project(t)
	var mounted bool
	for target, m := range bindMounts(t, service(t, p, "rabbitmq")) {
		if m.Source == "deploy/rabbitmq/rabbitmq.conf" {
			mounted = strings.HasPrefix(target, "/etc/rabbitmq/conf.d/") && strings.HasSuffix(target, ".conf")
		}
	}
	if !mounted {
		t.Error("rabbitmq does not mount deploy/rabbitmq/rabbitmq.conf as a /etc/rabbitmq/conf.d/*.conf file")
	}

	conf := rabbitConf(t, "deploy/rabbitmq/rabbitmq.conf")
	ms, err := strconv.ParseInt(conf["consumer_timeout"], 10, 64)
	if err != nil {
		t.Fatalf("consumer_timeout: %v", err)
	}
	timeout := time.Duration(ms) * time.Millisecond
	longest := longestChunkTimeout(t, "jobs/election")
	// A delivery stays unacknowledged while its chunk runs, and RabbitMQ
	// closes the channel of a consumer that holds one past the timeout.
	if timeout <= longest {
		t.Errorf("consumer_timeout %v is not longer than the longest chunk timeout %v", timeout, longest)
	}
}

// rabbitConf reads the key = value settings of a rabbitmq.conf file.
func rabbitConf(t *testing.T, rel string) map[string]string {
	t.Helper()
	conf := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readRepoFile(t, rel)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s:%d: %q is not key = value", rel, n, line)
		}
		conf[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return conf
}

// longestChunkTimeout returns the longest value that a ChunkTimeout method of
// the package in dir returns, read from its source: the operations are not
// exported, and their timeouts are constants.
func longestChunkTimeout(t *testing.T, dir string) time.Duration {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(repoFile(t, dir), "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var longest time.Duration
	var methods int
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "ChunkTimeout" {
				continue
			}
			methods++
			d, err := returnedDuration(fn)
			if err != nil {
				t.Fatalf("%s: %v; teach this test to read it", fset.Position(fn.Pos()), err)
			}
			longest = max(longest, d)
		}
	}
	if methods == 0 {
		t.Fatalf("no ChunkTimeout method in %s", dir)
	}
	return longest
}

// returnedDuration evaluates a function whose body is `return N * time.Unit`
// or `return time.Unit`.
func returnedDuration(fn *ast.FuncDecl) (time.Duration, error) {
	if len(fn.Body.List) != 1 {
		return 0, fmt.Errorf("%s is not a single return statement", fn.Name.Name)
	}
	ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return 0, fmt.Errorf("%s is not a single return statement", fn.Name.Name)
	}
	return durationExpr(ret.Results[0])
}

// timeUnits are the time package's duration constants.
var timeUnits = map[string]time.Duration{
	"Nanosecond": time.Nanosecond, "Microsecond": time.Microsecond, "Millisecond": time.Millisecond,
	"Second": time.Second, "Minute": time.Minute, "Hour": time.Hour,
}

func durationExpr(e ast.Expr) (time.Duration, error) {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return durationExpr(e.X)
	case *ast.BasicLit:
		if e.Kind == token.INT {
			n, err := strconv.ParseInt(e.Value, 0, 64)
			return time.Duration(n), err
		}
	case *ast.SelectorExpr:
		if pkg, ok := e.X.(*ast.Ident); ok && pkg.Name == "time" {
			if d, ok := timeUnits[e.Sel.Name]; ok {
				return d, nil
			}
		}
	case *ast.BinaryExpr:
		if e.Op == token.MUL {
			x, err := durationExpr(e.X)
			if err != nil {
				return 0, err
			}
			y, err := durationExpr(e.Y)
			return x * y, err
		}
	}
	return 0, fmt.Errorf("cannot evaluate %T as a constant duration", e)
}
