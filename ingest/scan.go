package ingest

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/quellhq/quell"
)

// scanner is a small validating JSON reader over one request body, used by
// every parser here. It exists for speed: encoding/json (v1, and v2 under
// GOEXPERIMENT=jsonv2) decodes an Alertmanager webhook at about 60 MB/s per
// core, this about five times faster (bench_test.go has both). It accepts
// exactly what json.Valid accepts,
// decodes strings as json.Unmarshal does (invalid UTF-8 and lone surrogates
// become U+FFFD), bounds nesting, and fuzz_test.go checks it against
// encoding/json.
type scanner struct {
	b     []byte
	i     int
	depth int
	arena arena
	// scratch holds the last decoded value string that had escapes.
	scratch []byte
	lim     limits
}

// maxDepth bounds nesting so a hostile body cannot exhaust the stack; real
// payloads nest four deep.
const maxDepth = 1000

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, 0 at the end of the body.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) syntax(msg string) error {
	return &ParseError{Syntax: true, Msg: fmt.Sprintf("invalid JSON at byte %d: %s", s.i, msg)}
}

// want reports that the next value is not of the kind the format requires;
// an invalid value is reported as a syntax error instead.
func (s *scanner) want(kind string) error {
	got := kindOf(s.peek())
	if got == "" {
		if s.i == len(s.b) {
			return s.syntax("unexpected end of body")
		}
		return s.syntax(fmt.Sprintf("unexpected %q", s.b[s.i]))
	}
	return problemf("want %s, got %s", kind, got)
}

func kindOf(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return ""
}

// object reads an object, calling f for each member with the key (valid only
// during the call) and the scanner at the value, which f must consume.
func (s *scanner) object(f func(key []byte) error) error {
	if s.peek() != '{' {
		return s.want("an object")
	}
	if s.depth++; s.depth > maxDepth {
		return s.syntax("nested too deeply")
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.syntax("want a string key")
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.syntax("want ':' after an object key")
		}
		s.i++
		if err := f(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.syntax("want ',' or '}' after an object member")
		}
	}
}

// array reads an array, calling f with each element's index and the scanner
// at the element, which f must consume.
func (s *scanner) array(f func(i int) error) error {
	if s.peek() != '[' {
		return s.want("an array")
	}
	if s.depth++; s.depth > maxDepth {
		return s.syntax("nested too deeply")
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		s.depth--
		return nil
	}
	for n := 0; ; n++ {
		if err := f(n); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.syntax("want ',' or ']' after an array element")
		}
	}
}

// plain marks the bytes a string can hold as they are: printable ASCII
// other than the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string value.
func (s *scanner) str() (string, error) {
	if s.peek() != '"' {
		return "", s.want("a string")
	}
	b, err := s.strBytes()
	return s.arena.str(b), err
}

// strBytes reads the string value at s.i: a slice of the body when it is
// plain ASCII, else decoded into scratch. Either way it is valid only until
// the next read; callers copy what they keep.
func (s *scanner) strBytes() ([]byte, error) { return s.strInto(false) }

// key reads an object key. Unlike a value it must survive reading the value
// (error paths name it), so one with escapes gets its own buffer.
func (s *scanner) key() ([]byte, error) { return s.strInto(true) }

func (s *scanner) strInto(own bool) ([]byte, error) {
	start := s.i + 1
	j := start
	// Eight bytes at a time while none needs attention: most strings in
	// alert bodies are plain ASCII, and this loop is most of a parse.
	for ; j+8 <= len(s.b); j += 8 {
		if quell.JSONSpecialBytes(binary.LittleEndian.Uint64(s.b[j:])) != 0 {
			break
		}
	}
	for ; j < len(s.b); j++ {
		c := s.b[j]
		if plain[c] {
			continue
		}
		if c == '"' {
			s.i = j + 1
			return s.b[start:j], nil
		}
		if own {
			return s.strSlow(nil, start, j)
		}
		b, err := s.strSlow(s.scratch[:0], start, j)
		s.scratch = b
		return b, err
	}
	s.i = len(s.b)
	return nil, s.syntax("unterminated string")
}

// strSlow decodes onto out the string starting at start, whose bytes up to j
// are plain and whose byte at j needs attention (escape, control byte or
// non-ASCII).
func (s *scanner) strSlow(out []byte, start, j int) ([]byte, error) {
	out = append(out, s.b[start:j]...)
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case plain[c]:
			out = append(out, c)
			j++
		case c == '"':
			s.i = j + 1
			return out, nil
		case c == '\\':
			s.i = j
			n, err := s.escape(&out)
			if err != nil {
				return out[:0], err
			}
			j += n
		case c < 0x20:
			s.i = j
			return out[:0], s.syntax("control character in string: escape it")
		default:
			r, n := utf8.DecodeRune(s.b[j:])
			out = utf8.AppendRune(out, r) // RuneError for invalid UTF-8
			j += n
		}
	}
	s.i = len(s.b)
	return out[:0], s.syntax("unterminated string")
}

// escape decodes the escape sequence at s.i onto out and returns its length.
func (s *scanner) escape(out *[]byte) (int, error) {
	b := s.b[s.i:]
	if len(b) < 2 {
		return 0, s.syntax("unterminated string")
	}
	switch b[1] {
	case '"', '\\', '/':
		*out = append(*out, b[1])
	case 'b':
		*out = append(*out, '\b')
	case 'f':
		*out = append(*out, '\f')
	case 'n':
		*out = append(*out, '\n')
	case 'r':
		*out = append(*out, '\r')
	case 't':
		*out = append(*out, '\t')
	case 'u':
		r := hex4(b[2:])
		if r < 0 {
			return 0, s.syntax(`\u needs four hex digits`)
		}
		if utf16.IsSurrogate(r) {
			// A pair is one character; a lone half is U+FFFD, as in encoding/json.
			if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
				if r2 := hex4(b[8:]); r2 >= 0 {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						*out = utf8.AppendRune(*out, d)
						return 12, nil
					}
				}
			}
			r = utf8.RuneError
		}
		*out = utf8.AppendRune(*out, r)
		return 6, nil
	default:
		return 0, s.syntax(fmt.Sprintf("invalid escape \\%c", b[1]))
	}
	return 2, nil
}

func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// scalar reads a string, number or boolean as text; null, objects and arrays
// give ok=false (the value is consumed). Templated bodies (Datadog, Splunk)
// hold strings, but a user's template may leave a number unquoted.
func (s *scanner) scalar() (v string, ok bool, err error) {
	switch c := s.peek(); {
	case c == '"':
		v, err = s.str()
		return v, err == nil, err
	case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f':
		start := s.i
		if err := s.skip(); err != nil {
			return "", false, err
		}
		return string(s.b[start:s.i]), true, nil
	}
	return "", false, s.skip()
}

// skip reads and discards one value of any kind, validating it.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(func(int) error { return s.skip() })
	case c == '"':
		_, err := s.strBytes()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.want("a value")
}

// uint reads a non-negative integer that fits in 64 bits.
func (s *scanner) uint() (uint64, error) {
	if c := s.peek(); c < '0' || c > '9' {
		return 0, s.want("a non-negative integer")
	}
	start := s.i
	if err := s.number(); err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(s.b[start:s.i]), 10, 64)
	if err != nil {
		return 0, problemf("%s is not a non-negative integer of 64 bits", s.b[start:s.i])
	}
	return n, nil
}

// bool reads true or false.
func (s *scanner) bool() (bool, error) {
	switch s.peek() {
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	}
	return false, s.want("true or false")
}

// null consumes a null if one is next.
func (s *scanner) null() bool {
	if s.peek() == 'n' && s.literal("null") == nil {
		return true
	}
	return false
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntax("invalid literal: want " + strconv.Quote(lit))
	}
	s.i += len(lit)
	return nil
}

// number validates the RFC 8259 number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return s.syntax("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.syntax("invalid number: want digits after '.'")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.syntax("invalid number: want digits in the exponent")
		}
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// end checks that nothing but whitespace follows the document.
func (s *scanner) end() error {
	if s.peek() != 0 || s.i < len(s.b) {
		return s.syntax("unexpected data after the JSON document")
	}
	return nil
}
