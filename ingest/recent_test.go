package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// TestObjectEnd finds the end of objects whose strings hold quotes,
// escaped quotes, backslashes before quotes and braces.
func TestObjectEnd(t *testing.T) {
	for _, obj := range []string{
		`{}`,
		`{"a":"b"}`,
		`{"a":{"b":["c",{"d":1}]},"e":"}"}`,
		`{"a":"x\"}y"}`,
		`{"a":"x\\"}`,
		`{"a":"x\\\"}"}`,
		`{"a":"\\\\","b":"{[\"]}"}`,
		`{"labels":{"alertname":"A"},"annotations":{"summary":"disk \"/\" full {90%}"}}`,
	} {
		if !json.Valid([]byte(obj)) {
			t.Fatalf("test object %s is not JSON", obj)
		}
		for _, tail := range []string{"", ",{\"z\":1}]", "]"} {
			b := []byte(" " + obj + tail)
			if got := objectEnd(b, 1); got != 1+len(obj) {
				t.Errorf("objectEnd(%q) = %d, want %d", b, got, 1+len(obj))
			}
		}
	}
	for _, bad := range []string{`{"a":"b"`, `{"a":"b}`, `{`} {
		if got := objectEnd([]byte(bad), 0); got != -1 {
			t.Errorf("objectEnd(%q) = %d, want -1", bad, got)
		}
	}
}

// TestRecall posts the same webhook twice: the second time every alert is
// recalled, equal to the first but for its arrival; an alert that changed
// is parsed, and one without startsAt (which parsing sets to the arrival)
// is never recalled.
func TestRecall(t *testing.T) {
	pub := &fakeBus{}
	h, _ := newTestHandler(t, DefaultConfig(), pub)
	body := func(summary string) []byte {
		return []byte(`{"alerts":[` +
			`{"status":"firing","labels":{"alertname":"DiskFull","instance":"db-1:9100"},"annotations":{"summary":"` + summary + `"},"startsAt":"2024-03-01T10:00:00Z","generatorURL":"http://prom/graph","fingerprint":"aa"},` +
			`{"status":"resolved","labels":{"alertname":"Down","job":"api"},"startsAt":"2024-03-01T09:00:00Z","endsAt":"2024-03-01T09:30:00Z"},` +
			`{"status":"firing","labels":{"alertname":"NoStart"}}]}`)
	}
	post := func(b []byte, at time.Time) []quell.Alert {
		t.Helper()
		h.now = func() time.Time { return at }
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(b)))
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return pub.batches[len(pub.batches)-1]
	}
	first := post(body(`disk \"/\" full`), now)
	later := now.Add(time.Minute)
	second := post(body(`disk \"/\" full`), later)
	if n := counter(t, h.m.recalled); n != 2 {
		t.Fatalf("recalled %v alerts, want 2 (not the one without startsAt)", n)
	}
	for i := range first {
		a, b := first[i], second[i]
		if !b.ReceivedAt.Equal(later) {
			t.Errorf("alert %d: received %s, want %s", i, b.ReceivedAt, later)
		}
		a.ReceivedAt, b.ReceivedAt = time.Time{}, time.Time{}
		if i == 2 {
			if !b.StartsAt.Equal(later) {
				t.Errorf("the alert without startsAt starts %s, want its arrival %s", b.StartsAt, later)
			}
			a.StartsAt, b.StartsAt = time.Time{}, time.Time{}
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("alert %d: recalled\n%+v\nparsed first\n%+v", i, b, a)
		}
	}
	third := post(body(`disk \"/\" almost full`), later)
	if n := counter(t, h.m.recalled); n != 3 {
		t.Errorf("recalled %v alerts in all, want 3: the changed one was not, the resolved one was again", n)
	}
	if got := third[0].Annotations["summary"]; got != `disk "/" almost full` {
		t.Errorf("changed alert's summary %q", got)
	}
}

// TestRecentBound: the alerts remembered never hold more than the bound.
func TestRecentBound(t *testing.T) {
	r := newRecentAlerts(64 << 10)
	for i := range 5000 {
		a := &quell.Alert{Labels: map[string]string{"alertname": strconv.Itoa(i)}, Raw: []byte(`{"n":` + strconv.Itoa(i) + `}`)}
		r.put(a)
		if r.bytes.Load() > r.max {
			t.Fatalf("after %d alerts: %d bytes, bound %d", i+1, r.bytes.Load(), r.max)
		}
	}
	held := 0
	for i := range r.shards {
		for _, p := range r.shards[i].pairs {
			for _, c := range p {
				if c.a != nil {
					held += c.a.Size()
				}
			}
		}
	}
	if int64(held) != r.bytes.Load() || held < int(r.max)/2 {
		t.Errorf("counted %d bytes, held %d, bound %d", r.bytes.Load(), held, r.max)
	}
}

// TestRecallConcurrently: senders posting the same alerts at once each get
// them whole, recalled or parsed (run with -race).
func TestRecallConcurrently(t *testing.T) {
	h, _ := newTestHandler(t, DefaultConfig(), &fakeBus{})
	pub := &lockedBus{}
	h.pub = pub
	var body bytes.Buffer
	body.WriteString(`{"alerts":[`)
	for i := range 50 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"status":"firing","labels":{"alertname":"A","n":"%d"},"startsAt":"2024-03-01T10:00:00Z"}`, i)
	}
	body.WriteString(`]}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(body.Bytes())))
				if rec.Code != 200 {
					t.Errorf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
	wg.Wait()
	for _, b := range pub.batches {
		for i, a := range b {
			if a.Labels["n"] != strconv.Itoa(i) || a.Fingerprint == 0 {
				t.Fatalf("alert %d came out as %+v", i, a)
			}
		}
	}
	if n := counter(t, h.m.recalled); n < 8*20*50/2 {
		t.Errorf("recalled %v of %d alerts", n, 8*20*50)
	}
}

// lockedBus is a fakeBus for concurrent requests.
type lockedBus struct {
	mu sync.Mutex
	fakeBus
}

func (b *lockedBus) Publish(ctx context.Context, alerts []quell.Alert) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fakeBus.Publish(ctx, alerts)
}
