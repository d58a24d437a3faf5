package kafka

import (
	"io"
	"sync"

	"github.com/pierrec/lz4/v4"
	"github.com/segmentio/kafka-go/compress"
)

// kafka-go's lz4 codec writes frames as lz4's defaults have them: 4 MiB
// blocks, so every batch written takes two 4 MiB buffers and every batch
// read one, from pools that every collection empties (24 MB of the 280 MB
// a split correlator had in use under load, for batches of tens of KiB),
// and a checksum of the whole content, which Kafka does not check. quell
// writes frames as Kafka's producer does: 64 KiB blocks (lz4 finds no match
// farther back anyway), no content checksum. Reading is unchanged: a frame
// says what it holds.
func init() {
	compress.Codecs[compress.Lz4] = &lz4Codec{}
}

type lz4Codec struct{ writers sync.Pool }

func (c *lz4Codec) Code() int8   { return compress.Lz4Codec.Code() }
func (c *lz4Codec) Name() string { return compress.Lz4Codec.Name() }
func (c *lz4Codec) NewReader(r io.Reader) io.ReadCloser {
	return compress.Lz4Codec.NewReader(r)
}

func (c *lz4Codec) NewWriter(w io.Writer) io.WriteCloser {
	z, _ := c.writers.Get().(*lz4.Writer)
	if z == nil {
		z = lz4.NewWriter(w)
		// Only options lz4 does not know can fail.
		if err := z.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false)); err != nil {
			panic(err)
		}
	} else {
		z.Reset(w)
	}
	return &lz4Writer{z: z, pool: &c.writers}
}

type lz4Writer struct {
	z    *lz4.Writer
	pool *sync.Pool
}

func (w *lz4Writer) Write(p []byte) (int, error) { return w.z.Write(p) }

func (w *lz4Writer) Close() error {
	err := w.z.Close()
	w.z.Reset(nil)
	w.pool.Put(w.z)
	return err
}
