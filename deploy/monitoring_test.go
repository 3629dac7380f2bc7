package deploy_test

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// prometheusConfig is the part of deploy/prometheus.yml the tests read.
type prometheusConfig struct {
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

// readYAML decodes a YAML file of the repository into v; fields v lacks are
// ignored (promtool and Grafana check the files whole).
func readYAML(t *testing.T, rel string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(readRepoFile(t, rel)), v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// addrPort returns the port of a listen address such as ":9090".
func addrPort(t *testing.T, what, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", what, addr, err)
	}
	return port
}

func TestPrometheusConfigPassesPromtool(t *testing.T) {
	promtool := lookTool(t, "promtool", "apt-get install --no-install-recommends prometheus, as scripts/install-deps.sh --all does")
	out, err := exec.Command(promtool, "check", "config", repoFile(t, "deploy/prometheus.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config deploy/prometheus.yml: %v\n%s", err, out)
	}
}

func TestPrometheusScrapesAPIAndWorkers(t *testing.T) {
	p, _ := project(t)
	var cfg prometheusConfig
	readYAML(t, "deploy/prometheus.yml", &cfg)

	apiPort := addrPort(t, "api TALLYQ_HTTP_ADDR", environment(t, service(t, p, "api"))["TALLYQ_HTTP_ADDR"])
	workerPort := addrPort(t, "worker TALLYQ_METRICS_ADDR", environment(t, service(t, p, "worker"))["TALLYQ_METRICS_ADDR"])
	var scrapesAPI, scrapesWorkers bool
	for _, sc := range cfg.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s scrapes %s, tallyq and RabbitMQ serve /metrics", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, port, err := net.SplitHostPort(target)
				if err != nil {
					t.Errorf("job %s: target %q: %v", sc.JobName, target, err)
					continue
				}
				service(t, p, host)
				if host == "api" && port == apiPort {
					scrapesAPI = true
				}
			}
		}
		for _, dns := range sc.DNSSDConfigs {
			for _, name := range dns.Names {
				service(t, p, name)
			}
			// Compose's DNS answers one A record per replica of a service.
			if slices.Equal(dns.Names, []string{"worker"}) && dns.Type == "A" && strconv.Itoa(dns.Port) == workerPort {
				scrapesWorkers = true
			}
		}
	}
	if !scrapesAPI {
		t.Errorf("no scrape job has target api:%s", apiPort)
	}
	if !scrapesWorkers {
		t.Errorf("no scrape job finds the workers with dns_sd_configs {names: [worker], type: A, port: %s}", workerPort)
	}

	// Prometheus reads the file that is checked here.
	prom := service(t, p, "prometheus")
	var configFile string
	for _, arg := range prom.Command {
		if v, ok := strings.CutPrefix(arg, "--config.file="); ok {
			configFile = v
		}
	}
	if m, ok := bindMounts(t, prom)[configFile]; !ok || m.Source != "deploy/prometheus.yml" {
		t.Errorf("prometheus: --config.file %q is not deploy/prometheus.yml (mounts %v)", configFile, bindMounts(t, prom))
	}
}

// grafanaDatasources is a Grafana datasource provisioning file.
type grafanaDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name string `yaml:"name"`
		UID  string `yaml:"uid"`
		Type string `yaml:"type"`
		URL  string `yaml:"url"`
	} `yaml:"datasources"`
}

// grafanaProviders is a Grafana dashboard provisioning file.
type grafanaProviders struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name    string `yaml:"name"`
		Type    string `yaml:"type"`
		Options struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// provisionedDatasources returns the uids of the datasources that
// deploy/grafana/provisioning sets up, checking that each reaches a service
// of p.
func provisionedDatasources(t *testing.T) []string {
	t.Helper()
	p, _ := project(t)
	files, err := filepath.Glob(repoFile(t, "deploy/grafana/provisioning/datasources/*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no datasource in deploy/grafana/provisioning/datasources (%v)", err)
	}
	var uids []string
	for _, f := range files {
		rel := "deploy/grafana/provisioning/datasources/" + filepath.Base(f)
		var ds grafanaDatasources
		readYAML(t, rel, &ds)
		if ds.APIVersion != 1 {
			t.Errorf("%s: apiVersion %d, want 1", rel, ds.APIVersion)
		}
		for _, d := range ds.Datasources {
			u, err := url.Parse(d.URL)
			if err != nil {
				t.Errorf("%s: datasource %s: %v", rel, d.UID, err)
				continue
			}
			service(t, p, u.Hostname())
			uids = append(uids, d.UID)
		}
	}
	return uids
}

func TestGrafanaProvisioning(t *testing.T) {
	p, _ := project(t)
	g := service(t, p, "grafana")
	mounts := bindMounts(t, g)
	if m, ok := mounts["/etc/grafana/provisioning"]; !ok || m.Source != "deploy/grafana/provisioning" {
		t.Errorf("grafana does not mount deploy/grafana/provisioning at /etc/grafana/provisioning: %v", mounts)
	}

	// The Prometheus datasource has the uid the dashboards name, and the
	// address of the prometheus service.
	var ds grafanaDatasources
	readYAML(t, "deploy/grafana/provisioning/datasources/prometheus.yml", &ds)
	var found bool
	for _, d := range ds.Datasources {
		if d.UID != "prometheus" {
			continue
		}
		found = true
		var promPort string
		for _, port := range service(t, p, "prometheus").Ports {
			promPort = strconv.Itoa(int(port.Target))
		}
		if d.Type != "prometheus" || d.URL != "http://prometheus:"+promPort {
			t.Errorf("datasource prometheus: type %q, url %q; want prometheus at http://prometheus:%s", d.Type, d.URL, promPort)
		}
	}
	if !found {
		t.Error("no datasource has uid prometheus")
	}

	// The dashboard provider reads the folder where deploy/grafana/dashboards
	// is mounted.
	var dashboardsDir string
	for target, m := range mounts {
		if m.Source == "deploy/grafana/dashboards" {
			dashboardsDir = target
		}
	}
	if dashboardsDir == "" {
		t.Fatalf("grafana does not mount deploy/grafana/dashboards: %v", mounts)
	}
	var pv grafanaProviders
	readYAML(t, "deploy/grafana/provisioning/dashboards/tallyq.yml", &pv)
	if len(pv.Providers) != 1 || pv.Providers[0].Type != "file" || pv.Providers[0].Options.Path != dashboardsDir {
		t.Errorf("dashboard providers %+v, want one file provider reading %s", pv.Providers, dashboardsDir)
	}

	// Grafana's home dashboard is one of those files.
	home := environment(t, g)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	if rel, ok := strings.CutPrefix(home, dashboardsDir+"/"); !ok {
		t.Errorf("home dashboard %q is not in %s", home, dashboardsDir)
	} else if _, err := os.Stat(repoFile(t, path.Join("deploy/grafana/dashboards", rel))); err != nil {
		t.Errorf("home dashboard: %v", err)
	}
}

func TestGrafanaDashboardsUseProvisionedDatasource(t *testing.T) {
	uids := provisionedDatasources(t)
	files, err := filepath.Glob(repoFile(t, "deploy/grafana/dashboards/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboard in deploy/grafana/dashboards (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		for _, uid := range datasourceUIDs(doc) {
			// "${DS}"-style template variables resolve at view time.
			if !strings.HasPrefix(uid, "$") && !slices.Contains(uids, uid) {
				t.Errorf("%s names datasource uid %q; provisioned are %v", filepath.Base(f), uid, uids)
			}
		}
	}
}

// datasourceUIDs returns the uid of every "datasource" object in a dashboard.
func datasourceUIDs(v any) []string {
	var uids []string
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if ds, ok := child.(map[string]any); ok && k == "datasource" {
				if uid, ok := ds["uid"].(string); ok {
					uids = append(uids, uid)
				}
			}
			uids = append(uids, datasourceUIDs(child)...)
		}
	case []any:
		for _, child := range v {
			uids = append(uids, datasourceUIDs(child)...)
		}
	}
	return uids
}
