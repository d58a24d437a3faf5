// Package jsonl keeps a store's records in the data dir as a file of JSON
// lines: read back at start, appended as records come, and rewritten whole
// with what the store keeps once the file has grown past it. A line cut
// short by a crash ends what is read back.
package jsonl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
)

// Read calls each with every line of path (none yet is fine), decoded,
// until the first that does not decode.
func Read[T any](path string, each func(T)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var v T
		if json.Unmarshal(sc.Bytes(), &v) != nil {
			break // a line cut short by a crash: what follows it is lost with it
		}
		each(v)
	}
	return nil
}

// File is a file of JSON lines open for appending.
type File struct {
	f       *os.File
	w       *bufio.Writer
	written int64
	line    []byte // the last line, its buffer reused
}

// Create writes every value of all to path, replacing it only once the
// new file is whole and synced, and returns it open for appending.
func Create(path string, all iter.Seq[any]) (*File, error) {
	tmp := path + ".new"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	out := &File{f: f, w: bufio.NewWriter(f)}
	for v := range all {
		if err := out.Append(v); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := errors.Join(out.w.Flush(), f.Sync()); err != nil {
		f.Close()
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return nil, err
	}
	return out, nil // still open: the rename moved the file, not the handle
}

// Appender is a record that writes its own JSON, as encoding/json would:
// for stores whose records come at the rate of decisions.
type Appender interface{ AppendJSON([]byte) []byte }

// Append writes v as a line; Flush hands what was appended to the file.
func (f *File) Append(v any) error {
	if a, ok := v.(Appender); ok {
		f.line = append(a.AppendJSON(f.line[:0]), '\n')
	} else {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding a line: %w", err)
		}
		f.line = append(b, '\n')
	}
	f.w.Write(f.line)
	f.written += int64(len(f.line))
	return nil
}

func (f *File) Flush() error { return f.w.Flush() }

// Written is the bytes of the file: kept records and those replaced since.
func (f *File) Written() int64 { return f.written }

func (f *File) Close() error { return errors.Join(f.w.Flush(), f.f.Close()) }
