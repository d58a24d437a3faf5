package quality

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/quellhq/quell/correlate"
)

// faultalerts.py, the data set's own converter and scorer, when the
// shared data set is checked out beside the repository (as in CI).
func faultalertsScript(t *testing.T) string {
	p, err := filepath.Abs("../../../shared/datasets/rca-fault-alerts/faultalerts.py")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("QUELL_REQUIRE_SERVERS") != "" {
			t.Fatalf("faultalerts.py not found beside the repository: %v", err)
		}
		t.Skipf("faultalerts.py not found beside the repository (%v): the port is not compared", err)
	}
	return p
}

// The Go port scores a decision log exactly as faultalerts.py does, per
// event and per episode, sequential and overlaid.
func TestScoresMatchFaultalerts(t *testing.T) {
	script := faultalertsScript(t)
	for _, overlay := range []int{1, 3} {
		s, err := MicroSS(overlay)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := Replay(s, correlate.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(t.TempDir(), "decisions.jsonl")
		f, err := os.Create(log)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for _, d := range ds {
			b, _ := json.Marshal(map[string]any{"alert": map[string]any{"annotations": d.Alert.Annotations}, "incident": d.Incident})
			w.Write(append(b, '\n'))
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		assign := Assignments(ds)
		for _, episodes := range []bool{false, true} {
			args := []string{script, "score", "MicroSS", log, "--overlay", strconv.Itoa(overlay)}
			want := Pairwise(assign, Truth(s.Events))
			if episodes {
				args = append(args, "--episodes")
				want = Episodes(s.Events, assign)
			}
			cmd := exec.Command("python3", args...)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("python3 %v: %v", args, err)
			}
			var got Score
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("faultalerts.py printed %q: %v", out, err)
			}
			got.Missing, want.Missing = 0, 0 // the script counts an episode without decisions differently
			if !reflect.DeepEqual(got, want) {
				t.Errorf("overlay %d episodes %v: faultalerts.py %+v, Go %+v", overlay, episodes, got, want)
			}
		}
	}
}

// The stream the port converts is the one faultalerts.py writes: the same
// alerts in the same order.
func TestStreamMatchesFaultalerts(t *testing.T) {
	script := faultalertsScript(t)
	s, err := MicroSS(3)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", script, "convert", "MicroSS", "--overlay", "3")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<24)
	alerts := Alerts(s.Events, "alertmanager")
	i := 0
	for sc.Scan() {
		var msg struct {
			Alerts []struct {
				Status      string            `json:"status"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
				StartsAt    string            `json:"startsAt"`
			} `json:"alerts"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			t.Fatal(err)
		}
		for _, a := range msg.Alerts {
			if i >= len(alerts) {
				t.Fatalf("faultalerts.py wrote more than the %d alerts of the port", len(alerts))
			}
			g := alerts[i]
			if string(g.Status) != a.Status || !reflect.DeepEqual(g.Labels, a.Labels) || !reflect.DeepEqual(g.Annotations, a.Annotations) ||
				g.StartsAt.Format("2006-01-02T15:04:05.000Z") != a.StartsAt {
				t.Fatalf("alert %d: faultalerts.py %+v, port %s %v %v %s", i, a, g.Status, g.Labels, g.Annotations, g.StartsAt)
			}
			i++
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if i != len(alerts) {
		t.Fatalf("faultalerts.py wrote %d alerts, the port %d", i, len(alerts))
	}
}

// The generator is seeded: the same seed, the same storm.
func TestStormIsReproducible(t *testing.T) {
	for _, f := range Families {
		a, b := Storm(f, 3, 7), Storm(f, 3, 7)
		if !reflect.DeepEqual(a.Events, b.Events) || len(a.Events) == 0 {
			t.Fatalf("%s: two storms from one seed differ (or are empty)", f.Name)
		}
		if c := Storm(f, 3, 8); reflect.DeepEqual(a.Events, c.Events) {
			t.Fatalf("%s: seeds 7 and 8 give the same storm", f.Name)
		}
	}
}

// Quality floors for the default config, on MicroSS and on one generated
// system of every family: a change that makes grouping worse fails here
// before it reaches users (bench/quality reports the full picture).
func TestDefaultsHoldTheirQuality(t *testing.T) {
	cfg := correlate.DefaultConfig()
	check := func(s Set, floor float64) {
		t.Helper()
		r, err := Evaluate(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		base := ScoreAssign(s, Window(s.Events, 5*60*1000)).F1
		t.Logf("%s %s overlay %d: f1 %.3f (precision %.3f, recall %.3f), baseline %.3f", s.Data, s.Family, s.Overlay, r.F1, r.Precision, r.Recall, base)
		if r.F1 < floor || r.F1 < base-0.005 {
			t.Errorf("%s %s overlay %d: f1 %.3f, want at least %.3f and the baseline's %.3f", s.Data, s.Family, s.Overlay, r.F1, floor, base)
		}
	}
	for _, k := range []int{1, 3} {
		s, err := MicroSS(k)
		if err != nil {
			t.Fatal(err)
		}
		check(s, map[int]float64{1: 0.96, 3: 0.67}[k])
	}
	for _, f := range Families {
		check(Storm(f, 1, 1), 0.85)
		check(Storm(f, 3, 1), 0.55)
	}
}
