package quell

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"HighErrorRate on checkout":    "HighErrorRate on checkout",
		"disk\x00full":                 `disk\u0000full`,
		"\x1b[31mred\x1b[0m":           `\u001B[31mred\u001B[0m`,
		"invoice\u202Egpj.exe":         `invoice\u202Egpj.exe`,
		"a\u2066b\u2069c\u200Fd":       `a\u2066b\u2069c\u200Fd`,
		"line one\nline two\tindented": "line one\nline two\tindented",
		"café ✓ 日本":                    "café ✓ 日本",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
