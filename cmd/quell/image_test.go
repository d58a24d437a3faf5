package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/testenv"
)

// TestImage builds the container image with deploy/image/build.sh and
// checks what it promises: a non-root user, port 9095, the data dir as a
// volume, a health check; then runs the image's own binary on an alert.
// podman run needs to set resource limits that some machines (this one's
// sandbox among them) refuse; there the binary is copied out of the image
// and run as the image would run it, and the test says so.
func TestImage(t *testing.T) {
	podman := testenv.Podman(t)
	tag := "localhost/quell:test-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	build := exec.Command("../../deploy/image/build.sh", tag)
	build.Env = append(os.Environ(), "CONTAINER_ENGINE="+podman)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/image/build.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(podman, "rmi", "-f", tag).Run() })

	out, err := exec.Command(podman, "image", "inspect", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	var inspect []struct {
		Config struct {
			User         string
			ExposedPorts map[string]any
			Volumes      map[string]any
			Entrypoint   []string
		}
		Healthcheck *struct{ Test []string }
	}
	if err := json.Unmarshal(out, &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	c, health := inspect[0].Config, inspect[0].Healthcheck
	switch {
	case c.User == "" || strings.HasPrefix(c.User, "0") || strings.HasPrefix(c.User, "root"):
		t.Errorf("runs as %q, want a non-root user", c.User)
	case c.ExposedPorts["9095/tcp"] == nil:
		t.Errorf("exposes %v, want 9095/tcp", c.ExposedPorts)
	case c.Volumes["/var/lib/quell"] == nil:
		t.Errorf("volumes %v, want /var/lib/quell", c.Volumes)
	case health == nil || !strings.Contains(strings.Join(health.Test, " "), "/quell health"):
		t.Errorf("health check %+v, want /quell health", health)
	}

	bin := filepath.Join(t.TempDir(), "quell")
	run := exec.Command(podman, "run", "--rm", tag, "--help")
	if out, err := run.CombinedOutput(); err == nil {
		t.Logf("podman run works here: %s", strings.SplitN(string(out), "\n", 2)[0])
	} else {
		t.Logf("podman run refused here (%v: %s); running the binary copied out of the image instead", err, strings.TrimSpace(string(out)))
	}
	name := "quell-image-test-" + time.Now().Format("150405.000")
	if out, err := exec.Command(podman, "create", "--name", name, tag).CombinedOutput(); err != nil {
		t.Fatalf("podman create: %v\n%s", err, out)
	}
	defer exec.Command(podman, "rm", "-f", name).Run()
	if out, err := exec.Command(podman, "cp", name+":/quell", bin).CombinedOutput(); err != nil {
		t.Fatalf("podman cp: %v\n%s", err, out)
	}

	// The image's binary, started as the image's CMD starts it.
	addr := freeAddr(t)
	p := start(t, "quell (from the image)", bin, append(c.Entrypoint[1:], "serve", "--listen", addr, "--data-dir", t.TempDir())...)
	p.wantCleanExit = true
	url := "http://" + addr
	eventually(t, p, "the health check to pass", func() (bool, string) {
		out, err := exec.Command(bin, "health", "--url", url, "--ready").CombinedOutput()
		return err == nil, string(out)
	})
	if !post(url+"/api/v2/alerts", []amAlert{{Labels: map[string]string{"alertname": "ImageWorks", "service": "quell"}}}) {
		t.Fatal("posting an alert was refused")
	}
	q := &quellProc{url: url}
	q.waitIncidents(t, "open", "the alert's incident", func(incs []quell.Incident) bool {
		return len(incs) == 1 && incs[0].Alerts[0].Labels["alertname"] == "ImageWorks"
	})
}
