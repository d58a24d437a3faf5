package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	kafkago "github.com/segmentio/kafka-go"
)

// StateRecord is one keyed piece of a partition's state; Value nil deletes
// the key.
type StateRecord struct {
	Key   string
	Value []byte
}

// State topic layout. Partition p of the state topic holds the state of
// alerts partition p as a changelog, in the manner of Kafka Streams' state
// stores: many small keyed records written as the state changes, and a
// commit record after each checkpoint's records, naming the next input
// offset. Restoring reads the partition and keeps, per key, the latest value
// a commit covers.
//
// A checkpoint that a crash cut short leaves records no commit covers; they
// must not replace the committed values, yet compaction keeps only the
// latest record per key. So every record's Kafka key carries the checkpoint
// that wrote it (key@checkpoint): a new value never compacts an older one
// away by itself. The older one is deleted (a tombstone) only once a commit
// covers its successor. The keys a checkpoint deletes are listed in a few
// records of its own (deleted/<n>@checkpoint), and each key's last value is
// tombstoned once a commit covers the list, the list itself after them: an
// evicted alert costs its value and a tombstone, not also a marker of its
// own and that marker's tombstone, which doubled what the broker's log
// cleaner had to index in a storm.
const (
	keyCommit  = "commit"
	keyDeleted = "deleted/"
	// headerDeleted marks a deleted key in state written by quell before
	// deletion lists; a restore still honours it.
	headerDeleted = "quell-deleted"
	// deletedChunk bounds a deletion list's record, far below the
	// broker's default maximum (1 MB).
	deletedChunk = 256 << 10
)

// commitRecord is the value of a commit record.
type commitRecord struct {
	Checkpoint uint64 `json:"checkpoint"`
	// Next is the next alerts offset to read: the state covers every record before it.
	Next int64 `json:"next"`
}

// stateLog is one partition's state in the state topic, as its owner
// knows it.
type stateLog struct {
	p   *Partitioned
	id  int
	key []byte // the partition's id: the balancer sends every record there
	// version is the checkpoint of each live key's record, by the key's
	// hash: a partition may hold a million keys, and their strings would
	// double what the correlator's state costs.
	version map[uint64]uint32
	// obsolete are records superseded by committed ones, to delete.
	obsolete   []string
	checkpoint uint64 // the last committed, or the highest seen after a restore
}

func versioned(key string, v uint64) string { return key + "@" + strconv.FormatUint(v, 10) }

// StateChanges gives yield a checkpoint's records one at a time, one per
// key; a record's Value is valid only until yield returns.
type StateChanges func(yield func(StateRecord) error) error

// save writes what changed in part since the last save, then a commit
// naming next. After an error the log no longer knows what the topic
// holds: the partition must be restored again.
func (s *stateLog) save(ctx context.Context, changes StateChanges, next int64, w *stateWriter) error {
	c := s.checkpoint + 1
	// Records are encoded and go out a request at a time: a checkpoint of
	// a storm holds hundreds of thousands, and holding them all encoded at
	// once cost tens of megabytes for each checkpoint.
	out := w.batch(s.id)
	// The Kafka keys: "<partition>/<key>@<checkpoint>".
	var kb []byte
	key := func(k string, v uint64) []byte {
		kb = append(append(append(kb[:0], s.key...), '/'), k...)
		if v > 0 {
			kb = strconv.AppendUint(append(kb, '@'), v, 10)
		}
		return kb
	}
	for _, vk := range s.obsolete { // covered by the last commit: safe to drop now
		if err := out.add(ctx, key(vk, 0), nil, nil); err != nil {
			return s.failed(err)
		}
	}
	var obsolete []string
	// The deleted keys, a line each, in lists of about deletedChunk bytes.
	var lists [][]byte
	list := func(k string) {
		if n := len(lists); n == 0 || len(lists[n-1]) > deletedChunk {
			lists = append(lists, nil)
		}
		l := &lists[len(lists)-1]
		*l = append(appendListed(*l, k), '\n')
	}
	err := changes(func(r StateRecord) error {
		h := xxhash.Sum64String(r.Key)
		old, had := s.version[h]
		if r.Value == nil && !had {
			return nil // never written: nothing to delete
		}
		if had {
			obsolete = append(obsolete, versioned(r.Key, uint64(old)))
		}
		if r.Value == nil {
			delete(s.version, h)
			list(r.Key)
			return nil
		}
		s.version[h] = uint32(c)
		return out.add(ctx, key(r.Key, c), r.Value, nil)
	})
	if err != nil {
		return s.failed(err)
	}
	// After the values' tombstones in obsolete: a list tombstoned while a
	// value it deletes is not would bring that value back on restore.
	for i, l := range lists {
		k := keyDeleted + strconv.Itoa(i)
		if err := out.add(ctx, key(k, c), l, nil); err != nil {
			return s.failed(err)
		}
		obsolete = append(obsolete, versioned(k, c))
	}
	// The commit rides in the last request: a request's records for one
	// partition are appended all or none, after the earlier requests'.
	commit, _ := json.Marshal(commitRecord{Checkpoint: c, Next: next})
	if err := out.add(ctx, key(keyCommit, 0), commit, nil); err != nil {
		return s.failed(err)
	}
	if err := out.flush(ctx); err != nil {
		return fmt.Errorf("committing checkpoint %d of partition %d to %s: %w", c, s.id, s.p.cfg.Names.State, err)
	}
	out.release()
	s.checkpoint, s.obsolete = c, obsolete
	return nil
}

func (s *stateLog) failed(err error) error {
	return fmt.Errorf("writing state records of partition %d to %s: %w", s.id, s.p.cfg.Names.State, err)
}

// stateWriter produces state records to the partition they belong to. It
// sends produce requests itself: kafka-go's Writer looks up the topic's
// metadata once per record, which costs more than the record when a
// checkpoint writes hundreds of thousands.
type stateWriter struct {
	client *kafkago.Client
	topic  string
}

// maxRequestBytes keeps a produce request within the broker's default
// maximum record batch (1 MB).
const maxRequestBytes = 900_000

func (w *stateWriter) batch(id int) *stateBatch { return &stateBatch{w: w, id: id} }

// stateBatch gathers records for one produce request and sends it when the
// next record would not fit. It copies the records' keys and values into a
// buffer it reuses from request to request, and hands them to kafka-go
// through readers it reuses too: kafka-go's NewBytes allocates one per key
// and value, and NewRecordReader copies the records (together, 7% of what
// a split correlator allocated).
type stateBatch struct {
	w       *stateWriter
	id      int
	recs    recordList
	readers []heldBytes // the first used of them are the records'
	used    int
	size    int
	buf     []byte
}

// recordList reads its records in order, without copying them.
type recordList struct {
	recs []kafkago.Record
	next int
}

func (l *recordList) ReadRecord() (*kafkago.Record, error) {
	if l.next == len(l.recs) {
		return nil, io.EOF
	}
	l.next++
	return &l.recs[l.next-1], nil
}

// heldBytes is a key or value of a stateBatch, as kafka-go reads it.
type heldBytes struct{ bytes.Reader }

func (*heldBytes) Close() error { return nil }

// bytes is p, copied into the buffer, as a record's key or value. Readers
// of a grown slice stay where the records point to.
func (b *stateBatch) bytes(p []byte) kafkago.Bytes {
	if b.used == len(b.readers) {
		b.readers = append(b.readers, heldBytes{})
		b.readers = b.readers[:cap(b.readers)]
	}
	r := &b.readers[b.used]
	b.used++
	r.Reset(b.hold(p))
	return r
}

// add gathers a record of key and value (nil: none) with headers.
func (b *stateBatch) add(ctx context.Context, key, value []byte, headers []kafkago.Header) error {
	n := 32 + len(key) + len(value)
	if len(b.recs.recs) > 0 && b.size+n > maxRequestBytes {
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	r := kafkago.Record{Key: b.bytes(key), Headers: headers}
	if value != nil {
		r.Value = b.bytes(value)
	}
	b.recs.recs = append(b.recs.recs, r)
	b.size += n
	return nil
}

// hold copies p into the buffer. A full buffer is replaced, not grown: the
// records gathered so far point into it.
func (b *stateBatch) hold(p []byte) []byte {
	if b.buf == nil {
		b.buf = (*batchBuffers.Get().(*[]byte))[:0]
	}
	if cap(b.buf)-len(b.buf) < len(p) {
		b.buf = make([]byte, 0, max(batchBuffer, len(p)))
	}
	start := len(b.buf)
	b.buf = append(b.buf, p...)
	return b.buf[start:len(b.buf):len(b.buf)]
}

// batchBuffers are the batches' buffers, shared by the partitions: a
// request holds at most maxRequestBytes and the record that passes it.
var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, batchBuffer); return &b }}

const batchBuffer = maxRequestBytes + 64<<10

// release gives the buffer back once the batch was flushed. (After an
// error it is let go of: a request cut short may still be reading it.)
func (b *stateBatch) release() {
	if buf := b.buf; cap(buf) == batchBuffer {
		batchBuffers.Put(&buf)
	}
	b.buf = nil
}

// flush sends what was gathered; the batch may be used again.
func (b *stateBatch) flush(ctx context.Context) error {
	if len(b.recs.recs) == 0 {
		return nil
	}
	b.recs.next = 0
	resp, err := b.w.client.Produce(ctx, &kafkago.ProduceRequest{
		Topic: b.w.topic, Partition: b.id, RequiredAcks: kafkago.RequireAll, Compression: kafkago.Lz4,
		Records: &b.recs,
	})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return err // the batch is given up: a request cut short may still read its bytes
	}
	// Produce has read the records: their bytes may be written over.
	clear(b.recs.recs)
	clear(b.readers[:b.used])
	b.recs.recs, b.used, b.size, b.buf = b.recs.recs[:0], 0, 0, b.buf[:0]
	return nil
}

// entry is a key's value as a restore found it so far, and the checkpoint
// that wrote it.
type entry struct {
	version uint64
	value   []byte // nil: deleted
}

// pendingValue is a record read since the last commit: what load keeps of
// it (a whole message is five times the size, and the map of them is
// copied each time it grows).
type pendingValue struct {
	value   []byte
	offset  int64
	deleted bool
}

// restored is what load found.
type restored struct {
	state   map[string][]byte // nil: no commit, start from the first alert
	next    int64
	records int // read
}

// load reads state partition id and returns the state its last commit covers.
func (p *Partitioned) load(ctx context.Context, id int) (*stateLog, restored, error) {
	s := &stateLog{p: p, id: id, key: []byte(strconv.Itoa(id)), version: map[uint64]uint32{}}
	res := restored{next: kafkago.FirstOffset}
	first, last, err := p.stateOffsets(ctx, id)
	if err != nil || last <= first {
		return s, res, err
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: p.cfg.Brokers, Topic: p.cfg.Names.State, Partition: id, MinBytes: 1, MaxBytes: 16 << 20,
		QueueCapacity: 10000, ErrorLogger: kafkaLogger(p.log, slog.LevelDebug),
		// Closing the reader waits out a fetch in flight: keep it short.
		MaxWait: 250 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return nil, res, err
	}
	committed := map[string]entry{}
	live := map[string]bool{}            // versioned keys a commit covers, not yet tombstoned
	pending := map[string]pendingValue{} // versioned keys since the last commit
	var commit commitRecord
	prefix := string(s.key) + "/"
	foreign := 0
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return nil, res, fmt.Errorf("reading %s/%d at %d: %w", p.cfg.Names.State, id, r.Offset(), err)
		}
		res.records++
		vk, ok := strings.CutPrefix(string(m.Key), prefix)
		k, v := splitVersioned(vk)
		switch {
		case !ok:
			foreign++
		case vk == keyCommit:
			if err := json.Unmarshal(m.Value, &commit); err != nil {
				return nil, res, fmt.Errorf("commit record at %s/%d@%d: %w", p.cfg.Names.State, id, m.Offset, err)
			}
			for vk, pm := range pending {
				live[vk] = true
				k, v := splitVersioned(vk)
				if strings.HasPrefix(k, keyDeleted) {
					if err := deleteListed(committed, pm.value, v); err != nil {
						return nil, res, fmt.Errorf("deletion list at %s/%d@%d: %w", p.cfg.Names.State, id, pm.offset, err)
					}
					continue
				}
				if e, ok := committed[k]; !ok || v >= e.version {
					e = entry{version: v, value: pm.value}
					if pm.deleted {
						e.value = nil
					}
					committed[k] = e
				}
			}
			clear(pending)
		case len(m.Value) == 0:
			// A tombstone only ever deletes what a commit superseded: it
			// applies at once, wherever it stands.
			delete(live, vk)
			delete(pending, vk)
			if e, ok := committed[k]; ok && e.version == v {
				delete(committed, k)
			}
		default:
			pending[vk] = pendingValue{m.Value, m.Offset, deleted(m)}
			s.checkpoint = max(s.checkpoint, v)
		}
		if m.Offset >= last-1 {
			break
		}
	}
	if foreign > 0 {
		p.log.Warn("the state topic holds records of another layout (an older quell); they are ignored", "partition", id, "records", foreign)
	}
	s.checkpoint = max(s.checkpoint, commit.Checkpoint)
	if commit.Checkpoint == 0 {
		s.obsolete = keysOf(live, pending)
		return s, res, nil
	}
	// Sized at once: grown a key at a time, these maps were most of a
	// restore's CPU.
	res.state, res.next = make(map[string][]byte, len(committed)), commit.Next
	s.version = make(map[uint64]uint32, len(committed))
	for k, e := range committed {
		vk := versioned(k, e.version)
		if e.value == nil {
			continue
		}
		res.state[k] = e.value
		s.version[xxhash.Sum64String(k)] = uint32(e.version)
		delete(live, vk)
	}
	// Superseded and deleted values, and what a cut-short checkpoint wrote.
	s.obsolete = keysOf(live, pending)
	return s, res, nil
}

func deleted(m kafkago.Message) bool {
	for _, h := range m.Headers {
		if h.Key == headerDeleted {
			return true
		}
	}
	return false
}

func splitVersioned(vk string) (string, uint64) {
	i := strings.LastIndexByte(vk, '@')
	if i < 0 {
		return vk, 0
	}
	v, _ := strconv.ParseUint(vk[i+1:], 10, 64)
	return vk[:i], v
}

// keysOf lists the versioned keys of live and pending, deletion lists
// last: they are tombstoned after the values they delete (see save).
func keysOf(live map[string]bool, pending map[string]pendingValue) []string {
	out := make([]string, 0, len(live)+len(pending))
	var lists []string
	add := func(vk string) {
		if strings.HasPrefix(vk, keyDeleted) {
			lists = append(lists, vk)
		} else {
			out = append(out, vk)
		}
	}
	for vk := range live {
		add(vk)
	}
	for vk := range pending {
		add(vk)
	}
	return append(out, lists...)
}

// appendListed appends key k as a deletion list's line holds it: as it is,
// unless it could be mistaken for another line or a quoted one (quell's
// keys never are: quoting each cost as much as the rest of a deletion).
func appendListed(b []byte, k string) []byte {
	if strings.ContainsRune(k, '\n') || strings.HasPrefix(k, `"`) {
		return strconv.AppendQuote(b, k)
	}
	return append(b, k...)
}

// deleteListed drops from committed the keys a deletion list of
// checkpoint v names, unless a later checkpoint wrote them again.
func deleteListed(committed map[string]entry, list []byte, v uint64) error {
	for line := range bytes.Lines(list) {
		k := string(bytes.TrimSuffix(line, []byte{'\n'}))
		if strings.HasPrefix(k, `"`) {
			var err error
			if k, err = strconv.Unquote(k); err != nil {
				return err
			}
		}
		if e, ok := committed[k]; ok && e.version < v {
			delete(committed, k)
		}
	}
	return nil
}

// stateOffsets returns the first and next offsets of state partition id.
// A partition whose leader is moving or still being elected (a topic just
// created) answers with a transient error: retry that in place for a while
// rather than make every partition of the group rejoin.
func (p *Partitioned) stateOffsets(ctx context.Context, id int) (first, last int64, err error) {
	err = retryTransient(ctx, stateOffsetsPatience, 100*time.Millisecond, time.Second, p.log.With("partition", id), "listing state offsets", func() error {
		var err error
		first, last, err = p.listStateOffsets(ctx, id)
		return err
	})
	return first, last, err
}

// stateOffsetsPatience bounds the retries of stateOffsets.
const stateOffsetsPatience = 10 * time.Second

func (p *Partitioned) listStateOffsets(ctx context.Context, id int) (first, last int64, err error) {
	tr := newTransport([]string{p.cfg.Names.State})
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(p.cfg.Brokers...), Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{
		p.cfg.Names.State: {kafkago.FirstOffsetOf(id), kafkago.LastOffsetOf(id)},
	}})
	if err != nil {
		return 0, 0, fmt.Errorf("listing offsets of %s/%d: %w", p.cfg.Names.State, id, err)
	}
	for _, o := range resp.Topics[p.cfg.Names.State] {
		if o.Partition == id {
			if o.Error != nil {
				return 0, 0, fmt.Errorf("listing offsets of %s/%d: %w", p.cfg.Names.State, id, o.Error)
			}
			return o.FirstOffset, o.LastOffset, nil
		}
	}
	return 0, 0, fmt.Errorf("listing offsets of %s/%d: no such partition; the state topic needs as many partitions as %s",
		p.cfg.Names.State, id, p.cfg.Names.Alerts)
}
