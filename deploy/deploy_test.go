// Package deploy holds quell's deployment files: the container image
// (image/), the Helm chart (helm/quell), the compose file (compose/) and
// the scripts that start test servers (local/). Its tests check them
// without a cluster: Helm's own lint and template, every rendered object
// decoded strictly into the Kubernetes API types, the compose file loaded
// by the Compose specification's loader, and the quell configuration each
// carries loaded by quell itself.
package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/quellhq/quell/internal/config"
	"github.com/quellhq/quell/internal/testenv"
)

// run runs check with args (stdin in) and returns its output, failing the
// test when it fails.
func run(t *testing.T, in []byte, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.Bytes()
}

// loadsAsQuellConfig writes text to a file and loads it as quell does.
func loadsAsQuellConfig(t *testing.T, what, text string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quell.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		t.Errorf("%s is not a configuration quell takes: %v\n%s", what, err, text)
	}
}

// Every values file of the chart lints, renders objects that decode
// strictly into the Kubernetes API types, and carries a configuration
// quell loads; each mode renders what it promises.
func TestHelmChart(t *testing.T) {
	check := testenv.DeployCheck(t)
	values, _ := filepath.Glob("helm/quell/values*.yaml")
	if len(values) < 2 {
		t.Fatalf("values files: %v", values)
	}
	for _, v := range values {
		t.Run(filepath.Base(v), func(t *testing.T) {
			run(t, nil, check, "helm", "lint", "--strict", "helm/quell", "-f", v)
			rendered := run(t, nil, check, "helm", "template", "quell", "helm/quell", "-f", v)
			decoded := string(run(t, rendered, check, "manifests"))
			var kinds []string
			for _, line := range strings.Split(strings.TrimSpace(decoded), "\n") {
				f := strings.Fields(line)
				kinds = append(kinds, f[1][strings.LastIndex(f[1], "/")+1:])
			}
			want := []string{"Secret", "Service", "PodDisruptionBudget", "StatefulSet"}
			if strings.Contains(v, "split") {
				want = []string{"Secret", "Service", "PodDisruptionBudget", "Deployment", "HorizontalPodAutoscaler", "ServiceMonitor", "PersistentVolumeClaim"}
				// Each correlator is a named group member: its pod's name.
				if !regexp.MustCompile(`- --instance-id=\$\(POD_NAME\)\s+env:\s+- name: POD_NAME\s+valueFrom:\s+fieldRef: \{fieldPath: metadata.name\}`).Match(rendered) {
					t.Errorf("the correlator's container does not take its pod's name as --instance-id")
				}
			}
			for _, k := range want {
				if !slices.Contains(kinds, k) {
					t.Errorf("rendered %v, no %s", kinds, k)
				}
			}
			loadsAsQuellConfig(t, "the Secret's quell.yaml", secretConfig(t, rendered))
		})
	}
	// Strict: a misspelt field fails, as the API server would refuse it.
	rendered := run(t, nil, check, "helm", "template", "quell", "helm/quell", "--set", "securityContext.runAsUserr=5")
	cmd := exec.Command(check, "manifests")
	cmd.Stdin = bytes.NewReader(rendered)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "runAsUserr") {
		t.Errorf("a misspelt field passed: %v %s", err, out)
	}
}

// secretConfig is the quell.yaml the rendered Secret carries.
func secretConfig(t *testing.T, rendered []byte) string {
	t.Helper()
	for _, doc := range strings.Split(string(rendered), "\n---") {
		var obj struct {
			Kind       string            `yaml:"kind"`
			StringData map[string]string `yaml:"stringData"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind == "Secret" {
			return obj.StringData["quell.yaml"]
		}
	}
	t.Fatal("no Secret rendered")
	return ""
}

// The compose file loads with the Compose specification's loader, names
// every service it promises, and its quell and Alertmanager configurations
// load in quell and in the real amtool.
func TestCompose(t *testing.T) {
	check := testenv.DeployCheck(t)
	out := string(run(t, nil, check, "compose", "compose/compose.yaml"))
	for _, s := range []string{"quell", "quell-migrate", "kafka", "clickhouse", "grafana", "prometheus", "alertmanager"} {
		if !strings.Contains(out, " "+s+",") && !strings.HasSuffix(strings.TrimSpace(out), " "+s) {
			t.Errorf("compose services: %s; no %s", out, s)
		}
	}
	b, err := os.ReadFile("compose/quell.yaml")
	if err != nil {
		t.Fatal(err)
	}
	loadsAsQuellConfig(t, "compose/quell.yaml", string(b))
	amtool := testenv.Amtool(t)
	if out, err := exec.Command(amtool, "check-config", "compose/alertmanager.yml").CombinedOutput(); err != nil {
		t.Errorf("amtool check-config compose/alertmanager.yml: %v\n%s", err, out)
	}

	bad := filepath.Join(t.TempDir(), "compose.yaml")
	src, _ := os.ReadFile("compose/compose.yaml")
	if err := os.WriteFile(bad, bytes.Replace(src, []byte("    restart: unless-stopped"), []byte("    restartt: unless-stopped"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(check, "compose", bad)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "restartt") {
		t.Errorf("a misspelt compose key passed: %v %s", err, out)
	}
}
