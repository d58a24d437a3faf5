package correlate

// LearnedCounts is how much an engine learned online, against its bounds:
// graph nodes (at most MaxLearnedNodes; once there, entities it has not
// seen get no learned node until those no incident holds make room) and
// co-firing pairs (at most MaxCooccurrence;
// past it the least counted go).
type LearnedCounts struct {
	Nodes, Pairs int
}

// LearnedCounts tells how much the engine learned so far.
func (e *Engine) LearnedCounts() LearnedCounts {
	return LearnedCounts{Nodes: len(e.graph.ids), Pairs: e.co.entries}
}
