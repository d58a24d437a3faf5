package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bytes is a size in bytes, written as a number or with a unit: 512MiB,
// 1GiB, 64KiB (powers of 1024), or 500MB, 1GB (powers of 1000).
type Bytes int64

var units = []struct {
	suffix string
	n      int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

func (b *Bytes) UnmarshalYAML(node *yaml.Node) error {
	s := strings.TrimSpace(node.Value)
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.n
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("line %d: %q is not a size: write bytes, or a number with KiB, MiB, GiB, KB, MB or GB", node.Line, node.Value)
	}
	*b = Bytes(n * float64(mult))
	return nil
}

func (b Bytes) String() string {
	for _, u := range units[:3] {
		if int64(b) >= u.n && int64(b)%u.n == 0 && int64(b)/u.n < 1024 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}
