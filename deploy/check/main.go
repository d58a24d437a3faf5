// Command check validates quell's deployment files without a cluster or a
// daemon: it runs Helm's own command line (helm lint, helm template),
// decodes Kubernetes manifests (helm template's output, on stdin) strictly
// into the Kubernetes API types of client-go's scheme and the Prometheus
// operator's (an unknown or misspelt field fails), and loads compose files
// with the Compose specification's own loader.
//
//	check helm lint deploy/helm/quell -f values.yaml
//	check helm template quell deploy/helm/quell | check manifests
//	check compose deploy/compose/compose.yaml
//
// It is its own module, so that quell's binary does not depend on
// Kubernetes' or Compose's libraries; deploy/local/deploycheck.sh builds it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	var err error
	switch {
	case len(os.Args) >= 2 && os.Args[1] == "helm":
		if helm(os.Args[2:]) != nil {
			os.Exit(1) // helm printed the error
		}
	case len(os.Args) == 2 && os.Args[1] == "manifests":
		err = manifests(os.Stdin, os.Stdout)
	case len(os.Args) >= 3 && os.Args[1] == "compose":
		err = compose(os.Args[2:], os.Stdout)
	default:
		fmt.Fprintln(os.Stderr, "usage: check helm ARGS... | check manifests < rendered.yaml | check compose FILE...")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(1)
	}
}

// helm runs Helm's command line with args.
func helm(args []string) error {
	cmd, err := helmcmd.NewRootCmd(os.Stdout, args, helmcmd.SetupLogging)
	if err != nil {
		return err
	}
	cmd.SetArgs(args)
	return cmd.Execute()
}

// manifests decodes every document of r strictly and prints one line per
// object; any error names the document and the object.
func manifests(r io.Reader, w io.Writer) error {
	sch := runtime.NewScheme()
	if err := scheme.AddToScheme(sch); err != nil {
		return err
	}
	if err := monitoringv1.AddToScheme(sch); err != nil {
		return err
	}
	strict := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, sch, sch, kjson.SerializerOptions{Yaml: true, Strict: true})
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	n := 0
	for doc := 1; ; doc++ {
		b, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if len(bytes.TrimSpace(stripComments(b))) == 0 {
			continue
		}
		obj, gvk, err := strict.Decode(b, nil, nil)
		if err != nil {
			return fmt.Errorf("document %d (%s): %w", doc, source(b), err)
		}
		if gvk.Empty() || obj == nil {
			return fmt.Errorf("document %d (%s): no apiVersion and kind", doc, source(b))
		}
		fmt.Fprintf(w, "ok %s %s\n", kindOf(*gvk), name(obj))
		n++
	}
	if n == 0 {
		return errors.New("no objects on stdin")
	}
	return nil
}

func kindOf(gvk schema.GroupVersionKind) string {
	return gvk.GroupVersion().String() + "/" + gvk.Kind
}

func name(obj runtime.Object) string {
	if m, ok := obj.(interface{ GetName() string }); ok {
		return m.GetName()
	}
	return ""
}

// source is the "# Source: chart/templates/x.yaml" line helm puts above a
// document, to name it in errors.
func source(b []byte) string {
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(line, "# Source: "); ok {
			return s
		}
	}
	return "no source line"
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

// compose loads each file as docker compose would (the specification's
// schema and interpolation) and lists its services.
func compose(files []string, w io.Writer) error {
	for _, f := range files {
		opts, err := cli.NewProjectOptions([]string{f}, cli.WithWorkingDirectory(filepath.Dir(f)), cli.WithName("quell"), cli.WithOsEnv)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		p, err := opts.LoadProject(context.Background())
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Fprintf(w, "ok %s: services %s\n", f, strings.Join(p.ServiceNames(), ", "))
	}
	return nil
}
