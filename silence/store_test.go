package silence

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
)

func matchers(t *testing.T, s string) labels.Matchers {
	t.Helper()
	ms, err := labels.ParseMatchers(s)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// A silence made through the API silences what it matches while active,
// survives a restart (a new store on the same file), and stops once
// expired; configured silences are listed but cannot be changed.
func TestStoreLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "silences.json")
	st, err := NewStore([]Config{{Name: "weekend", Matchers: `env="staging"`}}, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	disk := map[string]string{"alertname": "DiskFull", "service": "db"}
	id, err := st.Set(Silence{Matchers: matchers(t, `alertname="DiskFull"`), StartsAt: now, EndsAt: now.Add(time.Hour),
		CreatedBy: "ana", Comment: "replacing the disk"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.SilencedBy(disk, now.Add(time.Minute)); len(got) != 1 || got[0] != id {
		t.Fatalf("silenced by %v, want [%s]", got, id)
	}
	if got := st.SilencedBy(map[string]string{"alertname": "CPUHigh"}, now.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("an alert the matchers do not select is silenced by %v", got)
	}

	again, err := NewStore([]Config{{Name: "weekend", Matchers: `env="staging"`}}, path)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := again.Get(id)
	if !ok || s.CreatedBy != "ana" || s.Comment != "replacing the disk" || s.Matchers.String() != `{alertname="DiskFull"}` || !s.EndsAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("after a restart: %+v (found %v)", s, ok)
	}
	if list := again.List(); len(list) != 2 || !list[0].Configured || list[0].ID != "config-0" {
		t.Fatalf("list: %+v", list)
	}
	if err := again.Expire("config-0", now); err == nil || !strings.Contains(err.Error(), "configuration file") {
		t.Fatalf("expiring a configured silence: %v", err)
	}
	later := now.Add(2 * time.Minute)
	if err := again.Expire(id, later); err != nil {
		t.Fatal(err)
	}
	if got := again.SilencedBy(disk, later.Add(time.Second)); len(got) != 0 {
		t.Fatalf("expired silence still silences: %v", got)
	}
	if s, _ := again.Get(id); s.State(later) != Expired {
		t.Fatalf("state after expiry: %s", s.State(later))
	}
	if err := again.Expire(id, later); err == nil {
		t.Fatal("expiring twice succeeded")
	}
	if _, err := again.Set(Silence{ID: "no-such-id", Matchers: matchers(t, `a="b"`), EndsAt: later.Add(time.Hour)}, later); err != ErrNotFound {
		t.Fatalf("updating a missing silence: %v", err)
	}
}

// Updating an active silence's end keeps its id; changing its matchers
// expires it and creates another, as Alertmanager does.
func TestStoreUpdate(t *testing.T) {
	st, err := NewStore(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	id, err := st.Set(Silence{Matchers: matchers(t, `a="b"`), StartsAt: now, EndsAt: now.Add(time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	same, err := st.Set(Silence{ID: id, Matchers: matchers(t, `a="b"`), StartsAt: now, EndsAt: now.Add(2 * time.Hour)}, now.Add(time.Minute))
	if err != nil || same != id {
		t.Fatalf("extending: id %s, err %v; want %s", same, err, id)
	}
	other, err := st.Set(Silence{ID: id, Matchers: matchers(t, `a="c"`), StartsAt: now, EndsAt: now.Add(2 * time.Hour)}, now.Add(2*time.Minute))
	if err != nil || other == id {
		t.Fatalf("new matchers: id %s, err %v; want a new id", other, err)
	}
	if s, _ := st.Get(id); s.State(now.Add(3*time.Minute)) != Expired {
		t.Fatalf("the replaced silence is %s, want expired", s.State(now.Add(3*time.Minute)))
	}
}

// What Alertmanager refuses is refused with a reason; a broken file stops
// the start with its path.
func TestStoreRefuses(t *testing.T) {
	st, _ := NewStore(nil, "")
	now := time.Now()
	for _, tc := range []struct {
		s    Silence
		want string
	}{
		{Silence{EndsAt: now.Add(time.Hour)}, "at least one matcher"},
		{Silence{Matchers: matchers(t, `a=~".*"`), EndsAt: now.Add(time.Hour)}, "empty string"},
		{Silence{Matchers: matchers(t, `a="b"`), StartsAt: now, EndsAt: now}, "end after it starts"},
		{Silence{Matchers: matchers(t, `a="b"`), StartsAt: now.Add(-2 * time.Hour), EndsAt: now.Add(-time.Hour)}, "in the past"},
	} {
		if _, err := st.Set(tc.s, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one saying %q", tc.s.Matchers, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "silences.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStore(nil, path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("broken file: %v", err)
	}
}
