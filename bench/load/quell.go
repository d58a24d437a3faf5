package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// quell is a quell serve this command started: on a fresh data dir, with
// journal.sync set, writing to ClickHouse when given a DSN, and otherwise
// the default config.
type quell struct {
	bin, dir, cfg, addr string
	cmd                 *exec.Cmd
	log                 *syncBuffer
}

func startQuell(bin, sync, clickhouse string) (*quell, error) {
	dir, err := os.MkdirTemp("", "quell-load-")
	if err != nil {
		return nil, err
	}
	q := &quell{bin: bin, dir: dir, cfg: filepath.Join(dir, "quell.yaml")}
	cfg := "journal:\n  sync: " + sync + "\n"
	if clickhouse != "" {
		cfg += "clickhouse:\n  dsn: " + clickhouse + "\n"
	}
	if err := os.WriteFile(q.cfg, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	q.addr = ln.Addr().String()
	ln.Close()
	if _, err := q.start(); err != nil {
		q.stop()
		return nil, err
	}
	return q, nil
}

func (q *quell) url() string { return "http://" + q.addr }

// start runs quell on q's data dir and returns how long it took to be ready.
func (q *quell) start() (time.Duration, error) {
	q.log = &syncBuffer{}
	q.cmd = exec.Command(q.bin, "serve", "--config", q.cfg, "--listen", q.addr, "--data-dir", filepath.Join(q.dir, "data"))
	q.cmd.Stderr = q.log
	began := time.Now()
	if err := q.cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", q.bin, err)
	}
	for deadline := began.Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(q.url() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(began), nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("quell was not ready within 60 s:\n%s", q.log)
		}
	}
}

// kill stops quell with SIGKILL: no drain, no last save.
func (q *quell) kill() {
	q.cmd.Process.Kill()
	q.cmd.Wait()
}

func (q *quell) stop() {
	if q.cmd != nil && q.cmd.ProcessState == nil {
		q.cmd.Process.Signal(syscall.SIGTERM)
		q.cmd.Wait()
	}
	os.RemoveAll(q.dir)
}

var replayedRE = regexp.MustCompile(`handled again the alerts accepted after the last saved state" alerts=(\d+) took=(\S+)`)

// restarted says what the last start handled again from the journal.
func (q *quell) restarted() string {
	m := replayedRE.FindStringSubmatch(q.log.String())
	if m == nil {
		return "nothing to handle again"
	}
	return fmt.Sprintf("%s alerts handled again in %s", m[1], m[2])
}

// peakRSS is the process's peak resident memory so far.
func (q *quell) peakRSS() string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", q.cmd.Process.Pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
