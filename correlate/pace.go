package correlate

import "time"

// pace counts the alerts that started firing in a scope in each of its
// last paceMinutes minutes (a flapping alert's returns aside). A scope is
// busy when in most of them some alert started: there unrelated problems
// begin all the time, during any other and on workloads that share a host,
// so neither arriving during a problem (see markStranger) nor sharing a
// host with it (see weighGraph) is a sign of belonging to it, past the
// problem's first moments. In a calm scope, where most minutes are
// quiet, both are.
type pace struct {
	minute int64 // the latest minute counted, in minutes since the epoch
	starts [paceMinutes]uint16
}

// paceMinutes: the minutes a scope's pace is measured over (the one under
// way included).
const paceMinutes = 30

// note counts an alert that started firing at at (engine time: it never
// goes back).
func (p *pace) note(at time.Time) {
	m := at.Unix() / 60
	if m-p.minute >= paceMinutes {
		p.starts = [paceMinutes]uint16{}
	} else {
		for k := p.minute + 1; k <= m; k++ {
			p.starts[k%paceMinutes] = 0
		}
	}
	p.minute = max(p.minute, m)
	if s := &p.starts[p.minute%paceMinutes]; *s < ^uint16(0) {
		*s++
	}
}

// busy tells whether some alert started firing in more than half of the
// whole minutes before at's, over the last paceMinutes.
func (p *pace) busy(at time.Time) bool {
	m := at.Unix() / 60
	n := 0
	for k := m - paceMinutes + 1; k < m; k++ {
		if k <= p.minute && p.minute-k < paceMinutes && p.starts[k%paceMinutes] > 0 {
			n++
		}
	}
	return 2*n > paceMinutes-1
}

// started lists the counts, oldest minute first, ending at p.minute (for
// snapshots).
func (p *pace) started() []uint16 {
	out := make([]uint16, paceMinutes)
	for i := range out {
		out[i] = p.starts[(p.minute+1+int64(i))%paceMinutes]
	}
	return out
}

// restore sets the counts that started returned, ending at minute.
func (p *pace) restore(minute int64, starts []uint16) {
	if minute <= 0 || len(starts) != paceMinutes {
		return
	}
	p.minute = minute
	for i, s := range starts {
		p.starts[(minute+1+int64(i))%paceMinutes] = s
	}
}
