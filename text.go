package quell

import (
	"fmt"
	"strings"
	"unicode"
)

// Printable returns s with the characters that can hide or disguise text
// where people read it escaped as \uXXXX: control characters other than
// newline and tab (NUL, escape sequences), and the bidirectional formatting
// characters that reorder what is shown (U+202E makes "gpj.exe" read
// "exe.jpg"). Titles and everything rendered for tickets and chat pass
// through it; labels themselves stay as sent, since they are identity.
func Printable(s string) string {
	if strings.IndexFunc(s, hidden) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if hidden(r) {
			fmt.Fprintf(&b, `\u%04X`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hidden(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case unicode.IsControl(r):
		return true
	}
	return unicode.Is(unicode.Bidi_Control, r)
}
