package enginetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables read by the Redis helpers.
const (
	// RedisURLEnv names a running server (a redis:// URL) that [RedisURL]
	// returns instead of starting one. CI (.ci/with-redis) sets it.
	RedisURLEnv = "TOKENREFRESH_TEST_REDIS_URL"
	// RedisRequireEnv set to "require" turns a missing Redis into a test
	// failure instead of a skip.
	RedisRequireEnv = "TOKENREFRESH_REDIS_TEST"
	// RedisServerEnv names the redis-server binary, overriding the search
	// (PATH, then /usr/bin). Point it at a missing file to see the skip
	// path.
	RedisServerEnv = "TOKENREFRESH_TEST_REDIS_SERVER"
)

// redisSkipMessage says how to run the tests that need Redis.
const redisSkipMessage = "Redis not available: apt-get install redis-server (or set " +
	RedisURLEnv + "=redis://...); CI sets " + RedisRequireEnv + "=require"

// redisWait bounds every wait for the server: start, readiness, stop.
const redisWait = 30 * time.Second

// RedisConfig chooses the persistence settings of a private Redis server.
// The zero value gives the settings storage/redis requires: appendonly yes,
// appendfsync always, maxmemory-policy noeviction.
type RedisConfig struct {
	AppendOnly      string // "yes" (default) or "no"
	AppendFsync     string // "always" (default), "everysec" or "no"
	MaxMemoryPolicy string // "noeviction" (default), "allkeys-lru", "volatile-lru"...
	// DisableConfig renames CONFIG away (--rename-command CONFIG ""), as
	// managed Redis services do.
	DisableConfig bool
}

// RedisServer is a private, throw-away redis-server in a temporary
// directory, listening on 127.0.0.1 and a free port, without a password.
// [StartRedis] starts it and registers its removal. Its methods are safe
// for concurrent use.
type RedisServer struct {
	bin  string
	dir  string
	port int
	args []string

	// mu guards the fields below and serializes Start/Kill.
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  <-chan struct{} // closed when cmd has been waited for
	removed bool
}

// StartRedis starts a private redis-server configured by cfg for tb, waits
// until it answers PING, and registers a cleanup that kills it and removes
// its files. Use it for tests that kill, restart or reconfigure the
// engine; others share [RedisURL]. Without redis-server it skips tb (or
// fails it when TOKENREFRESH_REDIS_TEST=require).
func StartRedis(tb testing.TB, cfg RedisConfig) *RedisServer {
	tb.Helper()
	bin, err := redisServerBin()
	if err != nil {
		redisUnavailable(tb, err)
	}
	s, err := newRedis(bin, cfg)
	if err != nil {
		tb.Fatalf("enginetest: start Redis: %v", err)
	}
	tb.Cleanup(s.destroy)
	return s
}

// Addr returns the server's host:port.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the server's URL, database 0, no password.
func (s *RedisServer) URL() string { return "redis://" + s.Addr() + "/0" }

// Kill kills the server with SIGKILL, as a crash would, and waits for it to
// exit. Every client connection is cut; what the append-only file holds
// survives for [RedisServer.Start].
func (s *RedisServer) Kill(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		tb.Fatalf("enginetest: kill Redis: server is not running")
	}
	s.kill()
}

// Start starts the server again after [RedisServer.Kill], on the same port
// and directory (so it replays its append-only file), and waits until it
// answers PING.
func (s *RedisServer) Start(tb testing.TB) {
	tb.Helper()
	if err := s.start(); err != nil {
		tb.Fatalf("enginetest: start Redis: %v", err)
	}
}

// Restart kills the server and starts it again.
func (s *RedisServer) Restart(tb testing.TB) {
	tb.Helper()
	s.Kill(tb)
	s.Start(tb)
}

// RedisURL returns the URL of a Redis server the test may share with the
// rest of the test process: the one named by TOKENREFRESH_TEST_REDIS_URL
// when set, else a private server (with the settings storage/redis
// requires) started on first use and stopped by [StopAll] or
// [StopAllRedis] (call one from TestMain). Tests sharing it isolate
// themselves with their own key prefixes, and never kill or reconfigure
// it. Without a server it skips tb (or fails it when
// TOKENREFRESH_REDIS_TEST=require).
func RedisURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(RedisURLEnv); u != "" {
		return u
	}
	return sharedRedis.get(tb, func(tb testing.TB) *RedisServer {
		bin, err := redisServerBin()
		if err != nil {
			redisUnavailable(tb, err)
		}
		s, err := newRedis(bin, RedisConfig{})
		if err != nil {
			tb.Fatalf("enginetest: start the shared Redis: %v", err)
		}
		return s
	}).URL()
}

// sharedRedis is the server behind RedisURL.
var sharedRedis shared[*RedisServer]

// StopAllRedis stops the shared Redis server started by [RedisURL], if
// any, and removes its files; a later RedisURL starts a new one. [StopAll]
// calls it too, so a TestMain needs only one of them.
func StopAllRedis() { sharedRedis.stop() }

// redisUnavailable skips tb, or fails it when Redis is required.
func redisUnavailable(tb testing.TB, why error) {
	tb.Helper()
	unavailable(tb, RedisRequireEnv, redisSkipMessage, why)
}

// redisServerBin finds redis-server: $TOKENREFRESH_TEST_REDIS_SERVER, else
// PATH, else /usr/bin (Debian's package; root's PATH may lack it in CI).
func redisServerBin() (string, error) {
	if bin := os.Getenv(RedisServerEnv); bin != "" {
		if _, err := exec.LookPath(bin); err != nil {
			return "", fmt.Errorf("%s=%s: %w", RedisServerEnv, bin, err)
		}
		return bin, nil
	}
	if bin, err := exec.LookPath("redis-server"); err == nil {
		return bin, nil
	}
	if _, err := exec.LookPath("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server", nil
	}
	return "", errors.New("redis-server not found on PATH or in /usr/bin")
}

// newRedis makes the directory of a new server, picks a port and starts
// it. A port taken between picking and binding is retried with another.
func newRedis(bin string, cfg RedisConfig) (_ *RedisServer, err error) {
	dir, err := os.MkdirTemp("", "tokenrefresh-redis-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &RedisServer{bin: bin, dir: dir, port: port, args: redisArgs(cfg, port, dir)}
		err = s.start()
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			return nil, err
		}
	}
}

func redisArgs(cfg RedisConfig, port int, dir string) []string {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	args := []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--daemonize", "no", "--logfile", "",
		"--appendonly", or(cfg.AppendOnly, "yes"),
		"--appendfsync", or(cfg.AppendFsync, "always"),
		"--maxmemory-policy", or(cfg.MaxMemoryPolicy, "noeviction"),
	}
	if cfg.DisableConfig {
		args = append(args, "--rename-command", "CONFIG", "")
	}
	return args
}

// start runs redis-server and waits until it answers PING.
func (s *RedisServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return errors.New("server was removed")
	}
	if s.cmd != nil {
		return errors.New("server is already running")
	}
	logPath := filepath.Join(s.dir, "redis.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: if the test process dies without its cleanups, the server
	// dies too instead of lingering.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	exited, err := started(cmd)
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.cmd, s.exited = cmd, exited
	if err := waitReady("redis-server", logPath, exited, redisWait, 20*time.Millisecond, s.ping); err != nil {
		if errors.Is(err, errExited) {
			s.cmd, s.exited = nil, nil
		} else {
			s.kill()
		}
		return err
	}
	return nil
}

// ping sends one PING on a fresh connection and wants +PONG. While the
// server loads its append-only file it answers -LOADING instead. A raw
// connection, not go-redis: its pool logs every refused dial to stderr.
func (s *RedisServer) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// kill sends SIGKILL and waits for the process. s.mu is held.
func (s *RedisServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd, s.exited = nil, nil
}

// destroy kills the server and removes its directory.
func (s *RedisServer) destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	s.removed = true
	_ = os.RemoveAll(s.dir)
}
