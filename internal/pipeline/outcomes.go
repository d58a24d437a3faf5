package pipeline

import "sync"

// Outcome is what became of one feedback: the incident it left the alerts
// in, or why it did not apply (see correlate.Engine.Feedback).
type Outcome struct {
	Incident string
	Err      error
}

// Outcomes lets the sender of feedback wait for what became of it: the
// feedback goes through the journal (or Kafka) and is applied later by the
// pipeline that owns its incident, once the sinks hold what it decided.
type Outcomes struct {
	mu      sync.Mutex
	waiting map[string]chan Outcome
}

// Await registers interest in feedback id before it is sent; done must be
// called once the caller stops waiting.
func (o *Outcomes) Await(id string) (out <-chan Outcome, done func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.waiting == nil {
		o.waiting = map[string]chan Outcome{}
	}
	ch := make(chan Outcome, 1)
	o.waiting[id] = ch
	return ch, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		delete(o.waiting, id)
	}
}

// outcome is one applied feedback's, to deliver once its output is out.
type outcome struct {
	id string
	Outcome
}

func (o *Outcomes) deliver(os []outcome) {
	if len(os) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, x := range os {
		if ch := o.waiting[x.id]; ch != nil {
			ch <- x.Outcome
			delete(o.waiting, x.id)
		}
	}
}
