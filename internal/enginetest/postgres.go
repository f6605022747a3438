package enginetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by the PostgreSQL helpers.
const (
	// PostgresURLEnv names a running server (a libpq URL) that
	// [PostgresDSN] returns instead of starting one. CI sets it.
	PostgresURLEnv = "TOKENREFRESH_TEST_POSTGRES_URL"
	// PostgresRequireEnv set to "require" turns a missing PostgreSQL into a
	// test failure instead of a skip.
	PostgresRequireEnv = "TOKENREFRESH_POSTGRES_TEST"
	// PostgresBinDirEnv names the directory holding initdb and postgres,
	// overriding the search (pg_config --bindir, /usr/lib/postgresql/*/bin,
	// PATH). Point it at an empty directory to see the skip path.
	PostgresBinDirEnv = "TOKENREFRESH_TEST_POSTGRES_BINDIR"
)

// postgresSkipMessage says how to run the tests that need PostgreSQL.
const postgresSkipMessage = "PostgreSQL not available: apt-get install postgresql (or set " +
	PostgresURLEnv + "=postgres://...); CI sets " + PostgresRequireEnv + "=require"

// postgresWait bounds every wait for the server: start, readiness, stop.
const postgresWait = 30 * time.Second

// PostgresServer is a private, throw-away PostgreSQL cluster in a temporary
// directory, listening on 127.0.0.1 and a free port, with trust
// authentication for the user "postgres". [StartPostgres] starts it and
// registers its removal. Its methods are safe for concurrent use.
type PostgresServer struct {
	bindir string
	dir    string // the temporary directory; also the Unix socket directory
	data   string // the data directory inside dir
	port   int
	cred   *syscall.Credential // nil when not running as root

	// mu guards the fields below and serializes Start/Crash.
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  <-chan struct{} // closed when cmd has been waited for
	removed bool
}

// StartPostgres starts a private cluster for tb and registers a cleanup that
// stops it (immediate shutdown) and removes its files. Use it for tests that
// crash, restart or reconfigure the engine; others share [PostgresDSN].
// Without PostgreSQL's binaries it skips tb (or fails it when
// TOKENREFRESH_POSTGRES_TEST=require).
func StartPostgres(tb testing.TB) *PostgresServer {
	tb.Helper()
	bindir, err := postgresBinDir()
	if err != nil {
		postgresUnavailable(tb, err)
	}
	s, err := newPostgres(bindir)
	if err != nil {
		tb.Fatalf("enginetest: start PostgreSQL: %v", err)
	}
	tb.Cleanup(s.destroy)
	return s
}

// DSN returns the server's URL: the superuser "postgres" on database
// "postgres", no password, no TLS.
func (s *PostgresServer) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Port returns the TCP port the server listens on (the same across restarts).
func (s *PostgresServer) Port() int { return s.port }

// Crash stops the server as a crash would: an immediate shutdown (SIGQUIT to
// the postmaster, what pg_ctl stop -m immediate sends), with no checkpoint,
// so the next [PostgresServer.Start] runs crash recovery. Every client
// connection is cut.
func (s *PostgresServer) Crash(tb testing.TB) {
	tb.Helper()
	if err := s.crash(); err != nil {
		tb.Fatalf("enginetest: crash PostgreSQL: %v", err)
	}
}

// Start starts the server again on the same port and data directory after
// [PostgresServer.Crash], and waits until it accepts connections.
func (s *PostgresServer) Start(tb testing.TB) {
	tb.Helper()
	if err := s.start(); err != nil {
		tb.Fatalf("enginetest: start PostgreSQL: %v", err)
	}
}

// Restart crashes the server and starts it again.
func (s *PostgresServer) Restart(tb testing.TB) {
	tb.Helper()
	s.Crash(tb)
	s.Start(tb)
}

// PostgresDSN returns the URL of a PostgreSQL server the test may share
// with the rest of the test process: the one named by
// TOKENREFRESH_TEST_POSTGRES_URL when set, else a private cluster started on
// first use and stopped by [StopAll] (call it from TestMain). Tests sharing
// it isolate themselves with their own table names or keys, and never crash
// or reconfigure it. Without a server it skips tb (or fails it when
// TOKENREFRESH_POSTGRES_TEST=require).
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(PostgresURLEnv); u != "" {
		return u
	}
	return sharedPostgres.get(tb, func(tb testing.TB) *PostgresServer {
		bindir, err := postgresBinDir()
		if err != nil {
			postgresUnavailable(tb, err)
		}
		s, err := newPostgres(bindir)
		if err != nil {
			tb.Fatalf("enginetest: start the shared PostgreSQL: %v", err)
		}
		return s
	}).DSN()
}

// sharedPostgres is the server behind PostgresDSN.
var sharedPostgres shared[*PostgresServer]

// stopSharedPostgres stops the shared server, if any; a later PostgresDSN
// starts a new one.
func stopSharedPostgres() { sharedPostgres.stop() }

// postgresUnavailable skips tb, or fails it when PostgreSQL is required.
func postgresUnavailable(tb testing.TB, why error) {
	tb.Helper()
	unavailable(tb, PostgresRequireEnv, postgresSkipMessage, why)
}

// postgresBinDir finds the directory holding initdb and postgres.
func postgresBinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(PostgresBinDirEnv); dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("no initdb and postgres in %s=%s", PostgresBinDirEnv, dir)
	}
	if pgc, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pgc, "--bindir").Output(); err == nil {
			if dir := strings.TrimSpace(string(out)); has(dir) {
				return dir, nil
			}
		}
	}
	// Debian keeps the server binaries out of PATH, one directory per major
	// version: take the newest.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(initdb); has(dir) {
			return dir, nil
		}
	}
	return "", errors.New("initdb and postgres not found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH)")
}

// postgresCredential returns the unprivileged user to run the server as when
// this process is root (initdb and postgres refuse to run as root): the user
// "postgres" the Debian package creates, else "nobody".
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil // no supplementary groups
	}
	return nil, errors.New("running as root and found neither user postgres nor nobody to run PostgreSQL as")
}

// newPostgres creates a cluster in a new temporary directory and starts it.
func newPostgres(bindir string) (_ *PostgresServer, err error) {
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tokenrefresh-pg-")
	if err != nil {
		return nil, err
	}
	s := &PostgresServer{bindir: bindir, dir: dir, data: filepath.Join(dir, "data"), cred: cred}
	defer func() {
		if err != nil {
			s.destroy()
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*postgresWait)
	defer cancel()
	initdb := s.prepare(exec.CommandContext(ctx, filepath.Join(s.bindir, "initdb"),
		"-D", s.data, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"))
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// prepare sets cmd, one of the server's binaries, to run as the server's
// user, in its directory, with a clean environment (no PG* variables).
func (s *PostgresServer) prepare(cmd *exec.Cmd) *exec.Cmd {
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "HOME=" + s.dir, "TZ=UTC"}
	// Pdeathsig: if the test process dies without its cleanups, the server
	// shuts down (immediately) instead of lingering.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

// start runs the postmaster and waits until it accepts connections.
func (s *PostgresServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return errors.New("server was removed")
	}
	if s.cmd != nil {
		return errors.New("server is already running")
	}
	logPath := filepath.Join(s.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := s.prepare(exec.Command(filepath.Join(s.bindir, "postgres"), "-D", s.data, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=on", // crash tests rely on durability
		"-c", "max_connections=300",
		"-c", "logging_collector=off"))
	cmd.Stdout, cmd.Stderr = logf, logf
	exited, err := started(cmd)
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.exited = cmd, exited
	if err := waitReady("postgres", logPath, exited, postgresWait, 50*time.Millisecond, s.ping); err != nil {
		if errors.Is(err, errExited) {
			s.cmd, s.exited = nil, nil
		} else {
			s.kill()
		}
		return err
	}
	return nil
}

// ping connects once and runs a query.
func (s *PostgresServer) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "SELECT 1")
	return err
}

// crash shuts the server down immediately and waits for the postmaster.
func (s *PostgresServer) crash() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("server is not running")
	}
	s.kill()
	return nil
}

// kill stops the postmaster (SIGQUIT, then SIGKILL when it does not exit in
// time) and waits for it. s.mu is held.
func (s *PostgresServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(postgresWait):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd, s.exited = nil, nil
}

// destroy stops the server and removes its directory.
func (s *PostgresServer) destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	s.removed = true
	_ = os.RemoveAll(s.dir)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of a log file, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
