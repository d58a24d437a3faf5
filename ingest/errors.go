package ingest

import (
	"errors"
	"fmt"
	"strconv"
)

// ParseError is a problem with a request body: where it is (a path such as
// alerts[3].startsAt, empty for the body as a whole) and what is wrong.
type ParseError struct {
	Path string
	Msg  string
	// Syntax is set when the body is not valid JSON at all.
	Syntax bool
	// Limit, when set, is the metrics reason of the Config limit exceeded.
	Limit string
}

func (e *ParseError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// at puts the field name p in front of err's path (nil stays nil). Paths are
// built only on the way out of an error, so a successful parse formats nothing.
func at(p string, err error) error {
	if err == nil {
		return nil
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		return &ParseError{Path: p, Msg: err.Error()}
	}
	switch {
	case pe.Path == "":
		pe.Path = p
	case pe.Path[0] == '[':
		pe.Path = p + pe.Path
	default:
		pe.Path = p + "." + pe.Path
	}
	return pe
}

// atIndex is at for the i-th element of the array p ("" for the body itself).
func atIndex(p string, i int, err error) error {
	return at(p+"["+strconv.Itoa(i)+"]", err)
}

// problemf reports a body that is valid JSON but not what the route expects.
func problemf(format string, args ...any) error {
	return &ParseError{Msg: fmt.Sprintf(format, args...)}
}
