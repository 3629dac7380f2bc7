package deploy_test

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/queue/rabbitmq"
)

func TestComposeServices(t *testing.T) {
	p, _ := project(t)
	if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, composeServices) {
		t.Fatalf("services = %v, want %v", got, composeServices)
	}
	images := map[string]string{
		"postgres":   "postgres:15",
		"rabbitmq":   "rabbitmq:",
		"prometheus": "prom/prometheus:",
		"grafana":    "grafana/grafana:",
	}
	for name, prefix := range images {
		s := service(t, p, name)
		if !strings.HasPrefix(s.Image, prefix) || s.Build != nil {
			t.Errorf("service %s: image %q, build %v; want a pulled image %s...", name, s.Image, s.Build, prefix)
		}
	}
	if img := service(t, p, "rabbitmq").Image; !strings.HasSuffix(img, "-management") {
		t.Errorf("rabbitmq image %q lacks the management plugin (a *-management tag)", img)
	}

	// The tallyq services run one image, built from the repository's Dockerfile.
	apiImage := service(t, p, "api").Image
	for _, name := range tallyqServices {
		s := service(t, p, name)
		if s.Image == "" || s.Image != apiImage {
			t.Errorf("service %s: image %q, want the api's %q", name, s.Image, apiImage)
		}
		if s.Build == nil || s.Build.Context != repoRoot(t) || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("service %s: build %+v, want the Dockerfile at the repository root", name, s.Build)
		}
	}
	if _, err := os.Stat(repoFile(t, "Dockerfile")); err != nil {
		t.Error(err)
	}

	commands := map[string][]string{
		"migrate": {"migrate", "up"},
		"api":     {"serve", "--workers", "0"},
		"worker":  {"worker"},
	}
	for name, want := range commands {
		if got := service(t, p, name).Command; !slices.Equal(got, want) {
			t.Errorf("service %s: command %q, want %q", name, got, want)
		}
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p, env := project(t)
	want := map[string][]string{
		// TCP, not the socket on which the image's initialising server answers.
		"postgres": {"CMD", "pg_isready", "-h", "127.0.0.1", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"]},
		"rabbitmq": {"CMD", "rabbitmq-diagnostics", "-q", "ping"},
		// The final image is Alpine: busybox wget is there, curl is not.
		"api": {"CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/readyz"},
		// A worker's metrics server (TALLYQ_METRICS_ADDR) answers /healthz.
		"worker": {"CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/healthz"},
	}
	for name, test := range want {
		hc := service(t, p, name).HealthCheck
		if hc == nil || hc.Disable {
			t.Errorf("service %s has no healthcheck", name)
			continue
		}
		if !slices.Equal(hc.Test, test) {
			t.Errorf("service %s: healthcheck %q, want %q", name, hc.Test, test)
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil || *hc.Retries == 0 {
			t.Errorf("service %s: healthcheck without interval, timeout and retries: %+v", name, hc)
		}
	}
	// The healthchecks ask the addresses the processes listen on.
	if addr := environment(t, service(t, p, "api"))["TALLYQ_HTTP_ADDR"]; addr != ":8080" {
		t.Errorf("api: TALLYQ_HTTP_ADDR = %q, want :8080 (its port, healthcheck and scrape target)", addr)
	}
	if addr := environment(t, service(t, p, "worker"))["TALLYQ_METRICS_ADDR"]; addr != ":9090" {
		t.Errorf("worker: TALLYQ_METRICS_ADDR = %q, want :9090 (its healthcheck and scrape target)", addr)
	}
}

func TestComposeStartOrder(t *testing.T) {
	p, _ := project(t)
	want := map[string]map[string]string{
		"migrate": {"postgres": types.ServiceConditionHealthy},
		"api": {
			"postgres": types.ServiceConditionHealthy,
			"rabbitmq": types.ServiceConditionHealthy,
			"migrate":  types.ServiceConditionCompletedSuccessfully,
		},
		"worker": {
			"postgres": types.ServiceConditionHealthy,
			"rabbitmq": types.ServiceConditionHealthy,
			"migrate":  types.ServiceConditionCompletedSuccessfully,
		},
	}
	for name, deps := range want {
		s := service(t, p, name)
		got := map[string]string{}
		for dep, d := range s.DependsOn {
			if !d.Required {
				t.Errorf("service %s: its dependency on %s is optional", name, dep)
			}
			got[dep] = d.Condition
		}
		if !maps.Equal(got, deps) {
			t.Errorf("service %s depends on %v, want %v", name, got, deps)
		}
	}
	// A one-shot service restarted on exit would never have completed.
	if r := service(t, p, "migrate").Restart; r != "" && r != types.RestartPolicyNo {
		t.Errorf("migrate: restart %q, want no", r)
	}
}

func TestComposeEnvironmentFromEnvFile(t *testing.T) {
	p, env := project(t)
	apiEnv := environment(t, service(t, p, "api"))
	worker := environment(t, service(t, p, "worker"))
	migrate := environment(t, service(t, p, "migrate"))
	postgres := environment(t, service(t, p, "postgres"))
	rabbit := environment(t, service(t, p, "rabbitmq"))
	grafana := environment(t, service(t, p, "grafana"))

	// The secrets are the random ones of this .env: not literals of the file.
	if apiEnv["TALLYQ_ADMIN_TOKEN"] != env["TALLYQ_ADMIN_TOKEN"] {
		t.Error("api: TALLYQ_ADMIN_TOKEN is not the .env's")
	}
	for name, e := range map[string]map[string]string{"api": apiEnv, "worker": worker} {
		if e["TALLYQ_SECRET_KEY"] != env["TALLYQ_SECRET_KEY"] {
			t.Errorf("%s: TALLYQ_SECRET_KEY is not the .env's", name)
		}
		if _, err := seal.ParseKey(e["TALLYQ_SECRET_KEY"]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if e["TALLYQ_BROKER"] != env["TALLYQ_BROKER"] {
			t.Errorf("%s: TALLYQ_BROKER = %q, want the .env's %q", name, e["TALLYQ_BROKER"], env["TALLYQ_BROKER"])
		}
		if e["TALLYQ_DATABASE_URL"] != migrate["TALLYQ_DATABASE_URL"] {
			t.Errorf("%s and migrate use different databases", name)
		}
		// Every engine must carry chunks on the same broker.
		if e["TALLYQ_AMQP_URL"] != apiEnv["TALLYQ_AMQP_URL"] {
			t.Errorf("%s and api use different AMQP URLs", name)
		}
	}
	// Least privilege: only the API checks the admin token, and migrations
	// need no secret but the database's.
	if _, ok := worker["TALLYQ_ADMIN_TOKEN"]; ok {
		t.Error("worker gets TALLYQ_ADMIN_TOKEN, which only serve reads")
	}
	for k := range migrate {
		if !slices.Contains([]string{"TALLYQ_DATABASE_URL", "TALLYQ_LOG_FORMAT", "TALLYQ_LOG_LEVEL"}, k) {
			t.Errorf("migrate gets %s, which it does not need", k)
		}
	}

	// The database URL names the postgres service with the credentials
	// Postgres was initialised with.
	db, err := url.Parse(migrate["TALLYQ_DATABASE_URL"])
	if err != nil {
		t.Fatalf("TALLYQ_DATABASE_URL does not parse: %v", err)
	}
	password, _ := db.User.Password()
	checkURLService(t, p, "TALLYQ_DATABASE_URL", db, "postgres", "5432")
	if db.User.Username() != postgres["POSTGRES_USER"] || password != postgres["POSTGRES_PASSWORD"] ||
		strings.TrimPrefix(db.Path, "/") != postgres["POSTGRES_DB"] {
		t.Error("TALLYQ_DATABASE_URL's user, password or database differ from the postgres service's")
	}
	if password != env["POSTGRES_PASSWORD"] || postgres["POSTGRES_USER"] != env["POSTGRES_USER"] {
		t.Error("the database credentials are not the .env's")
	}

	// The AMQP URL names the rabbitmq service with the account RabbitMQ
	// was initialised with, and passes the broker's own check.
	amqpURL := apiEnv["TALLYQ_AMQP_URL"]
	if err := rabbitmq.CheckURL(amqpURL); err != nil {
		t.Error(err)
	}
	amqp, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatalf("TALLYQ_AMQP_URL does not parse: %v", err)
	}
	checkURLService(t, p, "TALLYQ_AMQP_URL", amqp, "rabbitmq", "5672")
	amqpPassword, _ := amqp.User.Password()
	if amqp.User.Username() != rabbit["RABBITMQ_DEFAULT_USER"] || amqpPassword != rabbit["RABBITMQ_DEFAULT_PASS"] {
		t.Error("TALLYQ_AMQP_URL's account differs from the rabbitmq service's")
	}
	if amqp.User.Username() != env["RABBITMQ_USER"] || amqpPassword != env["RABBITMQ_PASSWORD"] {
		t.Error("the RabbitMQ credentials are not the .env's")
	}

	if grafana["GF_SECURITY_ADMIN_PASSWORD"] != env["GRAFANA_ADMIN_PASSWORD"] || grafana["GF_SECURITY_ADMIN_USER"] != env["GRAFANA_ADMIN_USER"] {
		t.Error("grafana's administrator is not the .env's")
	}
}

// checkURLService checks that a URL of variable name points at the given
// port of a service of p.
func checkURLService(t *testing.T, p *types.Project, name string, u *url.URL, svc, port string) {
	t.Helper()
	if u.Hostname() != svc || u.Port() != port {
		t.Errorf("%s points at %s, want %s", name, u.Host, net.JoinHostPort(svc, port))
	}
	service(t, p, svc)
}

func TestComposeBrokerSwitch(t *testing.T) {
	env := generatedEnv(t)
	for _, broker := range []string{"", "river", "rabbitmq"} {
		env["TALLYQ_BROKER"] = broker
		if broker == "" {
			delete(env, "TALLYQ_BROKER")
		}
		p, err := loadCompose(t, env)
		if err != nil {
			t.Fatalf("TALLYQ_BROKER=%q: %v", broker, err)
		}
		want := cmp.Or(broker, "river")
		for _, name := range []string{"api", "worker"} {
			if got := environment(t, service(t, p, name))["TALLYQ_BROKER"]; got != want {
				t.Errorf("TALLYQ_BROKER=%q in .env: %s gets %q, want %q", broker, name, got, want)
			}
		}
	}
}

func TestComposeRequiresSecrets(t *testing.T) {
	// .env.example as it is: its secrets are empty, and compose stops.
	if _, err := loadCompose(t, exampleEnv(t)); err == nil {
		t.Fatal("docker-compose.yml loads with the empty secrets of .env.example")
	}
	for _, name := range secretVars {
		env := generatedEnv(t)
		if env[name] == "" {
			t.Fatalf("make-env.sh left %s empty", name)
		}
		env[name] = ""
		_, err := loadCompose(t, env)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("with %s empty: error %v, want one naming %s", name, err, name)
		}
	}
}

func TestComposeWorkerScales(t *testing.T) {
	p, _ := project(t)
	w := service(t, p, "worker")
	if w.ContainerName != "" {
		t.Errorf("worker has container_name %q: replicas would collide", w.ContainerName)
	}
	if w.Hostname != "" {
		t.Errorf("worker has hostname %q: replicas would share it", w.Hostname)
	}
	if len(w.Ports) != 0 {
		t.Errorf("worker publishes ports %+v: replicas would collide", w.Ports)
	}
	if w.Deploy != nil && w.Deploy.Replicas != nil {
		t.Errorf("worker fixes replicas = %d, which --scale overrides anyway", *w.Deploy.Replicas)
	}
	// Its metrics address is the port it exposes to Prometheus.
	_, port, err := net.SplitHostPort(environment(t, w)["TALLYQ_METRICS_ADDR"])
	if err != nil || !slices.Contains(w.Expose, port) {
		t.Errorf("worker: TALLYQ_METRICS_ADDR port %q (%v) not in expose %v", port, err, w.Expose)
	}
	// Docker's SIGKILL must not come before tallyq's own shutdown grace.
	for _, name := range []string{"api", "worker"} {
		s := service(t, p, name)
		grace, err := time.ParseDuration(environment(t, s)["TALLYQ_SHUTDOWN_GRACE"])
		if err != nil {
			t.Fatalf("%s: TALLYQ_SHUTDOWN_GRACE: %v", name, err)
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= grace {
			t.Errorf("%s: stop_grace_period %v, want more than TALLYQ_SHUTDOWN_GRACE %v", name, s.StopGracePeriod, grace)
		}
	}
}

func TestComposePublishesOnLoopbackOnly(t *testing.T) {
	p, _ := project(t)
	published := map[string][]string{}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes %s->%d on %q, want 127.0.0.1", name, port.Published, port.Target, port.HostIP)
			}
			published[name] = append(published[name], fmt.Sprintf("%s->%d", port.Published, port.Target))
		}
	}
	want := map[string][]string{
		"api":        {"8080->8080"},
		"rabbitmq":   {"15672->15672"},
		"prometheus": {"9090->9090"},
		"grafana":    {"3000->3000"},
	}
	if !maps.EqualFunc(published, want, slices.Equal) {
		t.Errorf("published ports %v, want %v", published, want)
	}
}

func TestComposeVolumes(t *testing.T) {
	p, _ := project(t)
	data := map[string]string{
		"postgres":   "/var/lib/postgresql/data",
		"rabbitmq":   "/var/lib/rabbitmq",
		"prometheus": "/prometheus",
		"grafana":    "/var/lib/grafana",
	}
	for name, target := range data {
		var found bool
		for _, v := range service(t, p, name).Volumes {
			if v.Target != target {
				continue
			}
			found = true
			if _, declared := p.Volumes[v.Source]; v.Type != types.VolumeTypeVolume || !declared {
				t.Errorf("service %s: %s is on %s %q, want a declared named volume", name, target, v.Type, v.Source)
			}
		}
		if !found {
			t.Errorf("service %s keeps %s in the container only", name, target)
		}
	}
	// Every file mounted from the repository is there, and mounted read-only.
	for name, s := range p.Services {
		for target, m := range bindMounts(t, s) {
			if _, err := os.Stat(repoFile(t, m.Source)); err != nil {
				t.Errorf("service %s mounts %s, which the repository lacks: %v", name, m.Source, err)
			}
			if !m.ReadOnly {
				t.Errorf("service %s mounts %s at %s writable", name, m.Source, target)
			}
		}
	}
}
