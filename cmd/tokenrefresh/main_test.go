package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The tokenrefresh executable for the end-to-end tests: TestMain builds it
// once, while the in-process tests run; builtBinary waits for it.
var (
	binary    string
	buildErr  error
	buildDone = make(chan struct{})
)

func TestMain(m *testing.M) {
	if os.Getenv(fetchBrowserEnv) != "" {
		// Run by the CLI as its BROWSER: see fetchBrowser.
		os.Exit(fetchBrowserMain(os.Args[1:]))
	}
	flag.Parse()
	dir, err := os.MkdirTemp("", "tokenrefresh-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tokenrefresh")
	go func() {
		defer close(buildDone)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building tokenrefresh: %v\n%s", err, out)
		}
	}()
	code := m.Run()
	enginetest.StopAll()
	<-buildDone
	// Grants and the demo use http.DefaultTransport; its idle keep-alive
	// connections are not leaks.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// builtBinary returns the path of the tokenrefresh executable, waiting for
// TestMain's build.
func builtBinary(t *testing.T) string {
	t.Helper()
	<-buildDone
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// testEnv is an env over buffers with a fixed clock, no terminal, a
// private environment and a build without VCS information.
type testEnv struct {
	env
	out, errOut syncBuffer
	vars        map[string]string
}

// syncBuffer is a bytes.Buffer safe for concurrent use: a command's
// notices and progress write from their own goroutines.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// testBuild is the build information of test runs: fixed, so that help
// and version output are the same everywhere.
func testBuild() (*debug.BuildInfo, bool) {
	return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/tokenrefresh/tokenrefresh", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}}, true
}

// fixedNow is the clock of golden-file tests.
var fixedNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func newTestEnv(t *testing.T, stdin string) *testEnv {
	t.Helper()
	te := &testEnv{vars: map[string]string{"TOKENREFRESH_CONFIG_DIR": t.TempDir()}}
	te.env = env{
		stdin:         strings.NewReader(stdin),
		stdout:        &te.out,
		stderr:        &te.errOut,
		getenv:        func(k string) string { return te.vars[k] },
		now:           func() time.Time { return fixedNow },
		sleep:         sleep,
		isTerminal:    func(any) bool { return false },
		buildInfo:     testBuild,
		revokeTimeout: revokeTimeout,
		noticeDelay:   noticeDelay,

		browserAvailable: func() bool { return false },
	}
	return te
}

func (te *testEnv) run(t *testing.T, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return te.env.run(ctx, args)
}

// login logs alice in to srv's JSON API with a file store, as a user would
// with TOKENREFRESH_PASSWORD, and fails the test unless it works.
func (te *testEnv) login(t *testing.T, base string, extra ...string) {
	t.Helper()
	te.vars["TOKENREFRESH_PASSWORD"] = "wonderland"
	defer delete(te.vars, "TOKENREFRESH_PASSWORD")
	args := append([]string{"login", "--login-url", base + "/auth/login", "--refresh-url", base + "/auth/refresh",
		"--logout-url", base + "/auth/logout", "--username", "alice", "--store", "file"}, extra...)
	if code := te.run(t, args...); code != exitOK {
		t.Fatalf("login = %d: %s", code, te.errOut.String())
	}
	te.out.Reset()
	te.errOut.Reset()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
