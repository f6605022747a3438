package secretsweep

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

const module = "github.com/tokenrefresh/tokenrefresh"

// notSecret lists types whose secret-looking fields are not secrets.
var notSecret = []string{
	"tokensource.JSONMapping", // JSON field paths such as "data.access_token"
	"tokensource.Metadata",    // public metadata: TokenEndpointAuthMethodsSupported names methods
}

// TestNoExportedTypePrintsASecret sweeps every exported type of every
// public package (everything outside internal/ and cmd/): none may show a
// secret it holds under any fmt verb, slog or encoding/json.
func TestNoExportedTypePrintsASecret(t *testing.T) {
	root := moduleRoot(t)
	pkgs := exportedTypes(t, root)
	if len(pkgs) < 5 {
		t.Fatalf("found only %d public packages under %s", len(pkgs), root)
	}
	dir, err := os.MkdirTemp(root, ".secretsweep-") // a dot directory: never part of ./...
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	src, count := program(pkgs)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./"+filepath.Base(dir))
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sweep program: %v\n%s\n%s", err, stderr.String(), src)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !strings.HasPrefix(lines[0], "swept ") {
		t.Fatalf("sweep program printed %q", out)
	}
	for _, l := range lines[1:] {
		t.Error(l)
	}
	t.Logf("%s exported types of %d packages (%d listed)", strings.TrimPrefix(lines[0], "swept "), len(pkgs), count)
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// exportedTypes maps each public package's import path to its exported,
// non-generic type names, read from the source.
func exportedTypes(t *testing.T, root string) map[string][]string {
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		base := d.Name()
		if rel != "." && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") || base == "testdata" ||
			rel == "internal" || rel == "cmd") {
			return filepath.SkipDir
		}
		names, err := typesIn(path)
		if err != nil {
			return err
		}
		if len(names) > 0 {
			pkgs[module+"/"+filepath.ToSlash(rel)] = names
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func typesIn(dir string) ([]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if f.Name.Name == "main" {
			return nil, nil
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if ts.Name.IsExported() && ts.TypeParams == nil && !ts.Assign.IsValid() {
					names = append(names, ts.Name.Name)
				}
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// program generates the sweep's main package.
func program(pkgs map[string][]string) (string, int) {
	var paths []string
	for p := range pkgs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var imports, list strings.Builder
	count := 0
	for i, p := range paths {
		alias := fmt.Sprintf("p%d", i)
		fmt.Fprintf(&imports, "\t%s %q\n", alias, p)
		for _, n := range pkgs[p] {
			fmt.Fprintf(&list, "\t\t{Name: %q, Type: reflect.TypeFor[%s.%s]()},\n", p[strings.LastIndex(p, "/")+1:]+"."+n, alias, n)
			count++
		}
	}
	return fmt.Sprintf(`package main

import (
	"fmt"
	"reflect"

	"%s/internal/secretsweep"
%s)

func main() {
	types := []secretsweep.Named{
%s	}
	leaks := secretsweep.Check(types, secretsweep.Options{Module: %q, NotSecret: map[string]bool{%s}})
	fmt.Printf("swept %%d\n", len(types))
	for _, l := range leaks {
		fmt.Println(l)
	}
}
`, module, imports.String(), list.String(), module, quoteSet(notSecret)), count
}

func quoteSet(names []string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%q: true, ", n)
	}
	return b.String()
}
