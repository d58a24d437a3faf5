package pipeline

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/quellhq/quell/correlate"
)

// Files embedded mode keeps in the data dir.
const (
	snapshotFile = "correlator.json"
	// reserveFile holds disk space for the next save: when the disk is
	// full, it is given up so that the save, which lets the journal be cut,
	// still fits.
	reserveFile = "correlator.reserve"
)

// saved is the state file: the engine's snapshot and, beside it, the marks
// of the sinks that keep logs of their own (see sinks.Resumer) at the same
// point of the input.
type saved struct {
	correlate.Snapshot
	Marks map[string]int64 `json:"marks,omitempty"`
}

// SaveFile writes a state to dir, atomically, noting that it covers its
// input up to position input, where the sinks' logs stood at marks.
func SaveFile(dir string, snap correlate.Snapshot, input int64, marks map[string]int64) error {
	snap.Input = input
	err := writeFile(dir, saved{snap, marks})
	if errors.Is(err, syscall.ENOSPC) && os.Remove(filepath.Join(dir, reserveFile)) == nil {
		err = writeFile(dir, saved{snap, marks})
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	reserve(dir)
	return nil
}

func writeFile(dir string, s saved) error {
	tmp, err := os.CreateTemp(dir, snapshotFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = encodeState(tmp, s)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, snapshotFile))
	}
	return err
}

// StateSize is the bytes of the state saved in dir (0: none yet).
func StateSize(dir string) int64 {
	fi, err := os.Stat(filepath.Join(dir, snapshotFile))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// reserve writes a file as large as the state file, for the next save.
// Best effort: on a full disk it keeps what it could write, and SaveFile
// falls back on the journal's cut freeing space.
func reserve(dir string) {
	fi, err := os.Stat(filepath.Join(dir, snapshotFile))
	if err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, reserveFile), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	have, _ := f.Seek(0, io.SeekEnd)
	zeros := make([]byte, 1<<20)
	for ; have < fi.Size(); have += int64(len(zeros)) {
		if _, err := f.Write(zeros); err != nil {
			return
		}
	}
	f.Sync()
}

// RestoreFile loads the state SaveFile wrote to dir into p, if there is
// one, and returns the input position it covers (0 without one) and the
// sinks' marks. It removes what a crash during a save left behind.
func RestoreFile(dir string, p *Pipeline, log *slog.Logger) (int64, map[string]int64, error) {
	left, _ := filepath.Glob(filepath.Join(dir, snapshotFile+".*"))
	for _, tmp := range left {
		if err := os.Remove(tmp); err != nil {
			return 0, nil, fmt.Errorf("removing %s, which a crash during a save left: %w", tmp, err)
		}
		log.Info("removed a state file a crash left half-written", "path", tmp)
	}
	path := filepath.Join(dir, snapshotFile)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("restoring state: %w", err)
	}
	defer f.Close()
	s, err := decodeState(f, p != nil)
	if err != nil {
		return 0, nil, fmt.Errorf("restoring state from %s: %w (move the file away to start empty)", path, err)
	}
	if p != nil {
		p.Restore(s.Snapshot)
		log.Info("restored correlator state", "path", path, "incidents", len(s.Incidents), "alerts", len(s.Alerts))
	}
	return s.Input, s.Marks, nil
}
