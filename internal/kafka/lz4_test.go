package kafka

import (
	"bytes"
	"io"
	"testing"

	"github.com/segmentio/kafka-go/compress"
)

// TestLz4FramesAsKafkasProducer: what quell compresses is a frame of 64 KiB
// blocks without a content checksum, and reads back as it was written.
func TestLz4FramesAsKafkasProducer(t *testing.T) {
	codec := compress.Lz4.Codec()
	// 275 KB: several blocks. The second round's writer comes from the pool.
	want := bytes.Repeat([]byte(`{"labels":{"alertname":"HighLatency","service":"cart"}}`), 5000)
	for range 2 {
		var frame bytes.Buffer
		w := codec.NewWriter(&frame)
		if _, err := w.Write(want); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b := frame.Bytes()
		if len(b) < 7 {
			t.Fatalf("frame of %d bytes", len(b))
		}
		// After the 4-byte magic number: FLG, then BD (block maximum size
		// in bits 4-6: 4 is 64 KiB).
		if flg := b[4]; flg&0x04 != 0 {
			t.Errorf("FLG %#x: content checksum set", flg)
		}
		if bd := b[5]; bd>>4&7 != 4 {
			t.Errorf("BD %#x: block size index %d, want 4 (64 KiB)", bd, bd>>4&7)
		}
		r := codec.NewReader(bytes.NewReader(b))
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("read back %d bytes, wrote %d", len(got), len(want))
		}
	}
}
