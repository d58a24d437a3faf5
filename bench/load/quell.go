package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// startQuell starts bin serve on a fresh data dir with journal.sync set to
// sync and the per-client rate limit off (one generator is one client),
// and returns its base URL and how to stop it.
func startQuell(bin, sync string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "quell-load-")
	if err != nil {
		return "", nil, err
	}
	cfg := filepath.Join(dir, "quell.yaml")
	if err := os.WriteFile(cfg, []byte("ingest:\n  rate_per_client: 0\njournal:\n  sync: "+sync+"\n"), 0o644); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", addr, "--data-dir", filepath.Join(dir, "data"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(dir)
	}
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("quell with journal.sync %s was not ready within 30 s", sync)
		}
	}
}
