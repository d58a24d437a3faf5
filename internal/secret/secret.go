// Package secret reads the secrets quell's configuration names (ITSM
// credentials, webhook signing keys, the ClickHouse DSN): written in the
// file, read from a file (the *_file settings, as Alertmanager has them:
// a mounted Kubernetes Secret), or taken from the environment (${NAME} in
// the value).
package secret

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

var ref = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Resolve sets *value from file when file is set (its content without the
// trailing newline), then replaces each ${NAME} in it with the environment
// variable NAME ($$ is a literal $; any other $ stays as written). field
// names the setting in errors.
func Resolve(field string, value *string, file string) error {
	if file != "" {
		if *value != "" {
			return fmt.Errorf("%s and %s_file are both set: keep one", field, field)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("%s_file: %w", field, err)
		}
		*value = strings.TrimRight(string(b), "\r\n")
		if *value == "" {
			return fmt.Errorf("%s_file %s is empty", field, file)
		}
	}
	var missing []string
	*value = ref.ReplaceAllStringFunc(*value, func(m string) string {
		if m == "$$" {
			return "$"
		}
		name := m[2 : len(m)-1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return fmt.Errorf("%s: the environment has no %s (write $$ for a literal $)", field, strings.Join(missing, ", "))
	}
	return nil
}
