package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Setenv("QUELL_TEST_SECRET", "s3cret")
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		value, file, want, err string
	}{
		{value: "plain", want: "plain"},
		{value: "${QUELL_TEST_SECRET}", want: "s3cret"},
		{value: "clickhouse://u:${QUELL_TEST_SECRET}@h:9000/db", want: "clickhouse://u:s3cret@h:9000/db"},
		{value: "pa$$word $x", want: "pa$word $x"},
		{file: file, want: "from-file"},
		{value: "${QUELL_TEST_NOT_SET}", err: "no QUELL_TEST_NOT_SET"},
		{value: "x", file: file, err: "both set"},
		{file: filepath.Join(t.TempDir(), "missing"), err: "password_file"},
	} {
		v := tc.value
		err := Resolve("password", &v, tc.file)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q %q: error %v, want one saying %q", tc.value, tc.file, err, tc.err)
		case tc.err == "" && (err != nil || v != tc.want):
			t.Errorf("%q %q: %q (%v), want %q", tc.value, tc.file, v, err, tc.want)
		}
	}
}
