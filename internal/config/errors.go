package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The YAML decoder's errors name Go types ("field zz not found in type
// correlate.Config", "cannot unmarshal !!str `x` into time.Duration");
// yamlErrors rewrites them to name the setting's path in the file and what
// it takes.
var (
	lineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type`)
	typeRE    = regexp.MustCompile("^cannot unmarshal !!\\w+ (`.*`|[^ ]+) into (.+)$")
)

// wants says what a Go type takes, in the file's terms.
func wants(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration such as 30s or 5m"
	case goType == "config.Bytes":
		return "a size such as 512MiB or 2GiB"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map[") || strings.Contains(goType, "."):
		return "a mapping of settings"
	}
	return "a " + goType
}

// yamlErrors rewrites err's lines with the settings' paths, found in src;
// an error of another kind is returned as it is.
func yamlErrors(src []byte, err error) error {
	msgs := []string{err.Error()} // a setting's own check ("line 7: ...")
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var root yaml.Node
	if yaml.Unmarshal(src, &root) != nil {
		return err
	}
	out := make([]string, 0, len(msgs))
	for _, e := range msgs {
		m := lineRE.FindStringSubmatch(e)
		if m == nil {
			out = append(out, e)
			continue
		}
		line, _ := strconv.Atoi(m[1])
		path := pathAt(&root, line, "")
		switch {
		case unknownRE.MatchString(m[2]):
			out = append(out, fmt.Sprintf("%s (line %d): no such setting; check its spelling and the section it is in", path, line))
		case typeRE.MatchString(m[2]):
			t := typeRE.FindStringSubmatch(m[2])
			out = append(out, fmt.Sprintf("%s (line %d): %s is not %s", path, line, t[1], wants(t[2])))
		default:
			out = append(out, fmt.Sprintf("%s (line %d): %s", path, line, m[2]))
		}
	}
	return errors.New(strings.Join(out, "; "))
}

// pathAt is the dotted path of the setting whose key or value is on line
// (list items as [i]).
func pathAt(n *yaml.Node, line int, prefix string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p := pathAt(c, line, prefix); p != "" {
				return p
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			if k.Line == line {
				return p
			}
			if found := pathAt(v, line, p); found != "" {
				return found
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			if c.Kind == yaml.ScalarNode && c.Line == line {
				return p
			}
			if found := pathAt(c, line, p); found != "" {
				return found
			}
		}
	}
	return ""
}
