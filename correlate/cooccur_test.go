package correlate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCofiringAfterAging: signatures a scope saw start lately keep their
// entries at hand; once aging dropped an entry, the next co-firing with it
// is counted in a new entry that the tables hold, not in the dropped one.
func TestCofiringAfterAging(t *testing.T) {
	c := newCooccur(100)
	sc := &scope{}
	c.observe(sc, 1, t0)
	c.observe(sc, 2, t0.Add(time.Second))
	if p := c.sigs[1].partners; len(p) != 1 || p[0] != (coPartner{2, 1}) {
		t.Fatalf("partners of 1: %v, want 2 once", p)
	}
	c.age(0) // nothing may stay: all of it goes
	if len(c.sigs) != 0 || c.entries != 0 || c.seen != 0 {
		t.Fatalf("after aging: %d signatures, %d partner entries, %d seen; want none", len(c.sigs), c.entries, c.seen)
	}
	c.observe(sc, 3, t0.Add(2*time.Second))
	for _, sig := range []uint64{1, 2} {
		s := c.sigs[sig]
		if s == nil || len(s.partners) != 1 || s.partners[0] != (coPartner{3, 1}) {
			t.Fatalf("signature %d after the next co-firing: %+v, want partner 3 once", sig, s)
		}
	}
	st := c.state()
	if len(st.Partners) != 3 || len(st.Seen) != 1 || st.Seen[3] != 1 || c.entries != 4 || c.seen != 1 {
		t.Fatalf("state %+v, %d entries, %d seen; want 3 signatures with partners, 3 seen once, 4 entries", st, c.entries, c.seen)
	}
}

// TestAgingCountsFollowTheEntries: what aging reads of the counts, kept
// up as they change, is what a count of every entry gives, through aging
// and a restore.
func TestAgingCountsFollowTheEntries(t *testing.T) {
	recount := func(c *cooccur) (pairs, sigs [33]int) {
		for _, s := range c.sigs {
			for _, p := range s.partners {
				pairs[fade(p.n)]++
			}
			if s.seen > 0 {
				sigs[fade(s.seen)]++
			}
		}
		return pairs, sigs
	}
	check := func(what string, c *cooccur) {
		t.Helper()
		if pairs, sigs := recount(c); pairs != c.pairs || sigs != c.sigsAt {
			t.Fatalf("%s: kept %v and %v, entries count %v and %v", what, c.pairs, c.sigsAt, pairs, sigs)
		}
	}
	c := newCooccur(2000)
	// A full partner list (maxPartners) of partners co-fired a few times
	// each gives up its weakest for a new one.
	one := c.entry(1)
	for k := range maxPartners {
		for range 4 {
			c.add(one, uint64(100+k))
		}
	}
	c.add(one, 99)
	if len(one.partners) != maxPartners || !slices.Contains(one.partners, coPartner{99, 1}) {
		t.Fatalf("partners %v, want a full list holding 99 once", one.partners)
	}
	check("a full partner list", c)
	// A few signatures that come back often among many that come once, in
	// three scopes, until it ages several times.
	scopes := []*scope{{}, {}, {}}
	for i := range 20000 {
		sig := uint64(i % 13)
		if i%3 == 0 {
			sig = uint64(1000 + i)
		}
		c.observe(scopes[i%len(scopes)], sig, t0.Add(time.Duration(1000+i)*time.Second))
		if i%2000 == 1999 {
			check(fmt.Sprintf("after %d firings", i+1), c)
		}
	}
	restored := newCooccur(2000)
	restored.restore(c.state())
	check("restored", restored)
	restored.age(50)
	check("restored, then aged", restored)
}

// TestCofiringFadesWithTime: co-firing, learned among the alerts that
// start within coWindow of each other, pulls an alert into an incident
// where its partner joined lately (within coWindow, or a few starts ago),
// and much less where the partner joined minutes and many starts before:
// there the alert is more likely the next problem's.
func TestCofiringFadesWithTime(t *testing.T) {
	for _, c := range []struct {
		partnerAt time.Duration // when the partner joins, after the incident opened
		every     time.Duration // how often the incident takes an alert
		join      bool
	}{
		{4 * time.Minute, 20 * time.Second, true},
		{0, 20 * time.Second, false}, // 12 alerts started since the partner
		{0, 40 * time.Second, true},  // 6 alerts started since the partner
	} {
		r := newRun(t, DefaultConfig(), topoForTests(t))
		// Eight earlier problems: api's latency, then web's errors 5 s later.
		for i := range 8 {
			at := time.Duration(i) * time.Hour
			r.feed(time.Minute, occ{at: at, labels: fmt.Sprintf("alertname=Latency,service=api,round=%d", i)},
				occ{at: at + 5*time.Second, labels: fmt.Sprintf("alertname=Errors,service=web,round=%d", i)})
		}
		// Now api's incident takes an alert every so often for four minutes,
		// api's latency among them; web's errors come a minute after the last.
		start := 10 * time.Hour
		var occs []occ
		for i := 0; time.Duration(i)*c.every <= 4*time.Minute; i++ {
			at := start + time.Duration(i)*c.every
			labels := fmt.Sprintf("alertname=Saturation%d,service=api", i)
			if at-start == c.partnerAt {
				labels = "alertname=Latency,service=api,round=last"
			}
			occs = append(occs, occ{at: at, labels: labels})
		}
		occs = append(occs, occ{at: start + 5*time.Minute, labels: "alertname=Errors,service=web,round=last"})
		ds := r.feed(time.Minute, occs...)
		if len(ds) != len(occs) {
			t.Fatalf("%d decisions for %d alerts", len(ds), len(occs))
		}
		inc, late := ds[0].Incident, ds[len(ds)-1]
		for _, d := range ds[:len(ds)-1] {
			if d.Incident != inc {
				t.Fatalf("api's alerts went to %s and %s, want one incident: %s", inc, d.Incident, d.Reason)
			}
		}
		what := fmt.Sprintf("partner joined %v after the incident opened, an alert every %v", c.partnerAt, c.every)
		if joined := late.Incident == inc; joined != c.join {
			t.Errorf("%s: web's errors in it %v, want %v; reason: %s", what, joined, c.join, late.Reason)
		}
		if ago := "with an alert that joined it 5m0s ago"; strings.Contains(late.Reason, ago) == c.join {
			t.Errorf("%s: reason %q says %q: %v, want %v", what, late.Reason, ago, !c.join, !c.join)
		}
	}
}

// TestAgingKeepsTheStrongest: past its bound, the table drops its weakest
// entries down to an eighth of the bound, not everything: in a storm of
// signatures that each co-fired once, halving every count to zero dropped
// all that was learned. What co-fired most stays, and two tables fed alike
// keep the same entries (replays repeat their decisions).
func TestAgingKeepsTheStrongest(t *testing.T) {
	feed := func() *cooccur {
		c := newCooccur(200)
		sc := &scope{}
		at := t0
		for range 200 { // 1 and 2 start together, again and again
			at = at.Add(3 * coWindow)
			c.observe(sc, 1, at)
			c.observe(sc, 2, at.Add(time.Second))
		}
		aged := 0
		for sig := uint64(100); sig < 160; sig++ { // then a storm of new signatures
			before := c.entries
			c.observe(sc, sig, at.Add(time.Duration(sig)*time.Millisecond))
			if c.entries > c.max || c.seen > c.max {
				t.Fatalf("after signature %d: %d entries, %d signatures seen; bound %d", sig, c.entries, c.seen, c.max)
			}
			if c.entries < before {
				aged++
				if c.entries < c.max/16 {
					t.Fatalf("aging left %d of %d entries: it dropped more than the weakest", c.entries, before)
				}
			}
		}
		if aged == 0 {
			t.Fatal("the storm never reached the bound")
		}
		return c
	}
	c := feed()
	if p := c.sigs[1]; p == nil || !slices.ContainsFunc(p.partners, func(p coPartner) bool { return p.sig == 2 && p.n > 1 }) {
		t.Fatalf("signature 1 lost its strongest partner: %+v", p)
	}
	if again := feed(); !reflect.DeepEqual(c.state(), again.state()) {
		t.Fatal("two tables fed the same alerts kept different entries")
	}
}

// TestChangedSignaturesListedOnce: a checkpoint writes each changed
// signature once, the entry it has then (none once gone), however often it
// changed, went and came back since the last one; the next round lists it
// again when it changes again.
func TestChangedSignaturesListedOnce(t *testing.T) {
	c := newCooccur(100)
	c.track()
	sc := &scope{}
	c.observe(sc, 1, t0)
	c.observe(sc, 2, t0.Add(time.Second)) // 1 changes again: a partner
	c.age(0)                              // every entry goes, and is listed as changed
	c.observe(sc, 1, t0.Add(time.Hour))   // 1 comes back, alone
	type took struct {
		sig  uint64
		held bool
	}
	take := func() []took {
		var got []took
		c.takeChanged(func(sig uint64, s *coSig) {
			if s != nil && s != c.sigs[sig] {
				t.Fatalf("signature %d: an entry it no longer has", sig)
			}
			got = append(got, took{sig, s != nil})
		})
		slices.SortFunc(got, func(a, b took) int { return int(a.sig) - int(b.sig) })
		return got
	}
	if got, want := take(), []took{{1, true}, {2, false}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first round took %v, want 1 as it is now and 2 gone, once each", got)
	}
	if got := take(); len(got) != 0 {
		t.Fatalf("a round with no change took %v", got)
	}
	c.observe(sc, 1, t0.Add(2*time.Hour))
	if got, want := take(), []took{{1, true}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("third round took %v, want 1 again", got)
	}
}
