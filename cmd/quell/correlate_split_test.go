package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
)

// splitConfig: short correlator timings, so decisions leave within a second,
// and frequent snapshots, so a restart replays some records and skips others.
const splitConfig = `correlate:
  group_wait: 300ms
  resolve_hold: 5s
kafka:
  prefix: %s
  partitions: 4
  tick_every: 50ms
  snapshot_every: 1s
  max_delay: 3s
`

// split is the three stages of split mode as processes of one binary.
type split struct {
	t         *testing.T
	bin, addr string
	prefix    string
	cfg       string
	decisions string
	ingestURL string
	// ingestBase is ingest's base URL, for /readyz and /metrics.
	ingestBase string
}

func newSplit(t *testing.T, bin, addr string) *split {
	dir := t.TempDir()
	s := &split{t: t, bin: bin, addr: addr, prefix: fmt.Sprintf("test%d", time.Now().UnixNano()),
		cfg: filepath.Join(dir, "quell.yaml"), decisions: filepath.Join(dir, "decisions.jsonl")}
	if err := os.WriteFile(s.cfg, fmt.Appendf(nil, splitConfig, s.prefix), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// configure adds yaml to the stages' config file, for stages started after.
func (s *split) configure(yaml string) {
	f, err := os.OpenFile(s.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(yaml)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		s.t.Fatal(err)
	}
}

// start runs one stage, with extra flags, and waits until it serves HTTP.
func (s *split) start(stage string, extra ...string) *proc {
	s.t.Helper()
	p := s.launch(stage, extra...)
	s.serving(p)
	return p
}

// launch runs one stage, with extra flags, without waiting for it: stages
// launched together start as a deployment starts them, all at once.
func (s *split) launch(stage string, extra ...string) *proc {
	t := s.t
	t.Helper()
	args := append([]string{stage, "--kafka", s.addr, "--config", s.cfg, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, extra...)
	if stage == "sink" {
		args = append(args, "--decisions", s.decisions)
	}
	return start(t, "quell "+stage, s.bin, args...)
}

// serving waits until a launched stage serves HTTP.
func (s *split) serving(p *proc) {
	t := s.t
	t.Helper()
	var addr string
	eventually(t, p, p.name+" to serve", func() (bool, string) {
		m := listenRE.FindStringSubmatch(p.out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil, "no \"quell serving\" line yet"
	})
	if p.name == "quell ingest" {
		s.ingestBase = "http://" + addr
		s.ingestURL = s.ingestBase + ingest.PathAlertsV2
	}
}

// loadGen posts alerts, each with a unique uid annotation, and remembers
// the uids of the requests answered 2xx.
type loadGen struct {
	mu    sync.Mutex
	uids  []string
	n     atomic.Int64
	next  atomic.Int64 // the last uid's number: every one up to it was sent
	quit  chan struct{}
	wg    sync.WaitGroup
	fails atomic.Int64
}

// startLoad starts 4 posters of 20 alerts a request to url over 12
// clusters (scopes) and 30 services, so alerts group, scopes spread over
// partitions, and each request spans several partitions; modestly, for
// two shared cores.
func startLoad(t *testing.T, url string) *loadGen {
	return startLoadWith(t, url, loadOpts{pause: 20 * time.Millisecond})
}

// startLoadPadded is startLoad with alerts that carry a "pad" annotation of
// pad bytes.
func startLoadPadded(t *testing.T, url string, pad int) *loadGen {
	return startLoadWith(t, url, loadOpts{pad: pad, pause: 20 * time.Millisecond})
}

type loadOpts struct {
	pad      int           // bytes of a "pad" annotation
	oneScope bool          // no cluster label: every alert in one scope
	pause    time.Duration // after each request of each poster
}

func startLoadWith(t *testing.T, url string, o loadOpts) *loadGen {
	g := &loadGen{quit: make(chan struct{})}
	for w := 0; w < 4; w++ {
		g.wg.Go(func() {
			for {
				select {
				case <-g.quit:
					return
				default:
				}
				var body []amAlert
				var uids []string
				for range 20 {
					i := g.next.Add(1)
					uid := "a" + strconv.FormatInt(i, 10)
					uids = append(uids, uid)
					a := loadAlert(uid, time.Now().UTC(), time.Time{})
					if o.pad > 0 {
						a.Annotations["pad"] = strings.Repeat("p", o.pad)
					}
					if o.oneScope {
						delete(a.Labels, "cluster")
					}
					body = append(body, a)
				}
				if post(url, body) {
					g.mu.Lock()
					g.uids = append(g.uids, uids...)
					g.mu.Unlock()
					g.n.Add(int64(len(uids)))
				} else {
					g.fails.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(o.pause)
			}
		})
	}
	t.Cleanup(g.stop)
	return g
}

// loadAlert is the alert startLoad sent as uid "a<i>", firing since
// startsAt, or resolved at endsAt when that is set.
func loadAlert(uid string, startsAt, endsAt time.Time) amAlert {
	i, _ := strconv.ParseInt(uid[1:], 10, 64)
	return amAlert{
		Labels: map[string]string{"alertname": "Load", "cluster": "c" + strconv.FormatInt(i%12, 10),
			"service": "svc" + strconv.FormatInt(i%30, 10), "uid": uid},
		Annotations: map[string]string{"uid": uid},
		StartsAt:    startsAt,
		EndsAt:      endsAt,
	}
}

var loadClient = &http.Client{Timeout: 20 * time.Second}

func post(url string, body []amAlert) bool {
	b, _ := json.Marshal(body)
	resp, err := loadClient.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode/100 == 2
}

func (g *loadGen) acked() int64 { return g.n.Load() }

// sent lists every uid posted, answered 2xx or not: a request cut by a
// crash may still have been accepted.
func (g *loadGen) sent() []string {
	uids := make([]string, g.next.Load())
	for i := range uids {
		uids[i] = "a" + strconv.Itoa(i+1)
	}
	return uids
}

// waitAcked waits until n alerts were acknowledged in all.
func (g *loadGen) waitAcked(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(2 * waitFor)
	for g.acked() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d alerts acknowledged after %s, want %d (%d requests failed)", g.acked(), 2*waitFor, n, g.fails.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *loadGen) stop() {
	select {
	case <-g.quit:
	default:
		close(g.quit)
	}
	g.wg.Wait()
}

// check waits until every acknowledged alert has a decision in the sink's
// decision log, then wants each alert in exactly one incident.
func (s *split) check(t *testing.T, g *loadGen) {
	t.Helper()
	g.mu.Lock()
	acked := append([]string(nil), g.uids...)
	g.mu.Unlock()
	var incidents map[string]map[string]bool
	var records int
	deadline := time.Now().Add(2 * waitFor)
	for {
		incidents, records = readDecisions(t, s.decisions)
		missing := 0
		for _, uid := range acked {
			if len(incidents[uid]) == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged alerts have no decision after %s (%d decision records)", missing, len(acked), 2*waitFor, records)
		}
		time.Sleep(200 * time.Millisecond)
	}
	perIncident := map[string]int{}
	for _, uid := range acked {
		if ids := incidents[uid]; len(ids) != 1 {
			t.Errorf("alert %s is in %d incidents, want 1: %v", uid, len(ids), ids)
		}
		for id := range incidents[uid] {
			perIncident[id]++
		}
	}
	t.Logf("%d acknowledged alerts (%d requests failed and were not counted), all decided: %d decision records, %d incidents",
		len(acked), g.fails.Load(), records, len(perIncident))
}

// allDecided is a check for eventually: every uid has a decision in the
// decision log at path.
func allDecided(t *testing.T, path string, uids []string) func() (bool, string) {
	return func() (bool, string) {
		owners, _ := readDecisions(t, path)
		missing := 0
		for _, uid := range uids {
			if len(owners[uid]) == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d accepted alerts have no decision", missing, len(uids))
	}
}

// readDecisions maps each alert's uid to the incidents its decisions name.
func readDecisions(t *testing.T, path string) (map[string]map[string]bool, int) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]bool{}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var d quell.Decision
		if json.Unmarshal(sc.Bytes(), &d) != nil {
			continue // a line being written
		}
		n++
		uid := d.Alert.Annotations["uid"]
		if out[uid] == nil {
			out[uid] = map[string]bool{}
		}
		out[uid][d.Incident] = true
	}
	return out, n
}

// freePortPair finds a loopback port p with p+1 free too (a broker's
// client and controller ports).
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		ln.Close()
		if err == nil {
			ln2.Close()
			return p
		}
	}
	t.Fatal("no free pair of loopback ports")
	return 0
}
