package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// healthCmd asks a running quell whether it is alive (or ready): the
// container image's health check, where no shell or curl exists.
func healthCmd(args []string) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: quell health [--url URL] [--ready]

Exits 0 when the quell at URL answers /healthz (with --ready: /readyz) with
200, else prints why and exits 1. The container image runs it as its health
check.

`)
		fs.PrintDefaults()
	}
	url := fs.String("url", "http://127.0.0.1:9095", "base URL of the quell to ask")
	ready := fs.Bool("ready", false, "ask /readyz (takes alerts now) instead of /healthz (running)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	c := &http.Client{Timeout: *timeout}
	resp, err := c.Get(strings.TrimSuffix(*url, "/") + path)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
