package quality

import "testing"

// Each variant reshapes what it says and keeps the rest: the same faults
// and truth, no event changed in place in the set it came from.
func TestVariantsReshapeWhatTheySay(t *testing.T) {
	s, err := MicroSS(1)
	if err != nil {
		t.Fatal(err)
	}
	first, last := s.Events[0], s.Events[len(s.Events)-1]
	byName := map[string]Set{}
	for _, v := range Variants {
		byName[v.Name] = v.Apply(s)
	}
	x4 := byName["sparser-x4"]
	if len(x4.Events) != len(s.Events) || x4.Events[len(x4.Events)-1].At-first.At != 4*(last.At-first.At) {
		t.Errorf("sparser-x4 spans %d ms with %d events, want %d ms with %d", x4.Events[len(x4.Events)-1].At-first.At, len(x4.Events),
			4*(last.At-first.At), len(s.Events))
	}
	if s.Events[len(s.Events)-1].At != last.At {
		t.Error("stretching changed the set it came from")
	}
	calls := 0
	for _, e := range s.Events {
		if _, ok := e.Labels["peer_service"]; ok {
			calls++
		}
	}
	if n := len(byName["no-traces"].Events); calls == 0 || n != len(s.Events)-calls {
		t.Errorf("no-traces kept %d of %d events, %d of them calls", n, len(s.Events), calls)
	}
	if byName["no-topology"].Topology != nil || s.Topology == nil {
		t.Error("no-topology kept a topology, or took the set's")
	}
	for name, v := range byName {
		if v.Data != s.Data || v.Overlay != s.Overlay {
			t.Errorf("%s: data %q overlay %d, want %q %d", name, v.Data, v.Overlay, s.Data, s.Overlay)
		}
	}
}
