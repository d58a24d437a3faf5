package ingest

import "strings"

// arena hands out strings that share a few buffers, so an alert's dozens of
// label and annotation strings cost a few allocations instead of one each,
// and still do not pin the request body. A string that does not fit the
// current buffer starts a new one (a strings.Builder never rewrites bytes it
// has handed out) instead of growing it: grown, the buffer would be copied,
// and the strings handed out would keep every earlier copy alive, up to
// twice a big alert's bytes wasted.
type arena struct {
	b    strings.Builder
	next int // the next buffer's size
}

// maxChunk bounds a buffer's size, and with it the room a buffer may leave
// unused.
const maxChunk = 64 << 10

// reset starts a new alert, whose first buffer takes size bytes (a guess).
func (a *arena) reset(size int) {
	a.b = strings.Builder{}
	a.next = max(size, 64)
}

func (a *arena) str(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	if a.b.Cap()-a.b.Len() < len(p) {
		a.b = strings.Builder{}
		a.b.Grow(max(a.next, len(p)))
		a.next = min(2*a.next, maxChunk)
	}
	n := a.b.Len()
	a.b.Write(p)
	return a.b.String()[n:]
}
