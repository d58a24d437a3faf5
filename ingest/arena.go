package ingest

import "strings"

// arena hands out strings that share one buffer, so an alert's dozens of
// label and annotation strings cost one allocation instead of one each, and
// still do not pin the request body. A strings.Builder never rewrites bytes
// it has handed out; when it grows, earlier strings keep the old buffer.
type arena struct {
	b strings.Builder
}

// reset starts a new buffer for the next alert, sized from a guess.
func (a *arena) reset(size int) {
	a.b = strings.Builder{}
	a.b.Grow(size)
}

func (a *arena) str(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	n := a.b.Len()
	a.b.Write(p)
	return a.b.String()[n:]
}
