package pipeline

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/quellhq/quell/correlate"
)

// snapshotFile is where embedded mode keeps the engine's state in the data dir.
const snapshotFile = "correlator.json"

// SaveFile writes a state to dir, atomically, noting that it covers its
// input up to position input.
func SaveFile(dir string, snap correlate.Snapshot, input int64) error {
	snap.Input = input
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("snapshot: data dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, snapshotFile+".*")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := json.NewEncoder(tmp).Encode(snap); err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, snapshotFile)); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// RestoreFile loads the state SaveFile wrote to dir into p, if there is
// one, and returns the input position it covers (0 without one).
func RestoreFile(dir string, p *Pipeline, log *slog.Logger) (int64, error) {
	path := filepath.Join(dir, snapshotFile)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("restoring state: %w", err)
	}
	defer f.Close()
	var snap correlate.Snapshot
	if err := json.NewDecoder(f).Decode(&snap); err != nil {
		return 0, fmt.Errorf("restoring state from %s: %w (move the file away to start empty)", path, err)
	}
	p.Restore(snap)
	log.Info("restored correlator state", "path", path, "incidents", len(snap.Incidents), "alerts", len(snap.Alerts))
	return snap.Input, nil
}
