// Package jsonword tests eight bytes of JSON text at once for what a JSON
// string cannot hold as it is, so that readers and writers of JSON skip
// plain text a word at a time instead of a byte at a time.
package jsonword

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// Special has a byte's high bit set when that byte of w (little-endian) is
// not plain: below 0x20, a quote, a backslash or non-ASCII. Bits above the
// first such byte may be spurious (borrows), so only "any" and the lowest
// one are meaningful.
func Special(w uint64) uint64 {
	q := w ^ (lsb * '"')
	bs := w ^ (lsb * '\\')
	return ((w-lsb*0x20)&^w | (q-lsb)&^q | (bs-lsb)&^bs | w) & msb
}
