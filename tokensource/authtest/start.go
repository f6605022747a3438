package authtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// shutdownTimeout bounds how long Close waits for in-flight requests before
// cutting their connections.
const shutdownTimeout = 5 * time.Second

// listener is the serving side of a Server.
type listener struct {
	hs     *http.Server
	client *http.Client
	done   chan struct{} // closed when the serve goroutine returns
	// serveErr is written before done is closed.
	serveErr error
	// closeOnce guards closeErr.
	closeOnce sync.Once
	closeErr  error

	// connMu guards conns and closing.
	connMu  sync.Mutex
	conns   map[net.Conn]http.ConnState
	closing bool
}

// connState tracks the server's connections (http.Server.ConnState), and
// closes a connection that is or becomes idle, or that never sent a
// request, once Close has begun.
func (l *listener) connState(c net.Conn, st http.ConnState) {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	switch st {
	case http.StateHijacked, http.StateClosed:
		delete(l.conns, c)
	case http.StateNew, http.StateIdle:
		if l.closing {
			_ = c.Close()
			delete(l.conns, c)
			return
		}
		l.conns[c] = st
	default:
		l.conns[c] = st
	}
}

// closeQuiet closes every connection not serving a request, as
// httptest.Server.Close does: http.Server.Shutdown would wait 5 seconds
// for a connection a client dialled and never used.
func (l *listener) closeQuiet() {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	l.closing = true
	for c, st := range l.conns {
		if st != http.StateActive {
			_ = c.Close()
			delete(l.conns, c)
		}
	}
}

// NewServer starts a Server configured by o for the test tb: it listens on
// o.Addr (by default a free loopback port), fails tb at once if it cannot,
// and is closed by tb.Cleanup, which reports a failure to close as a test
// error.
func NewServer(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := New(o)
	if err != nil {
		tb.Fatalf("authtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("%v", err)
		}
	})
	return s
}

// New starts a Server configured by o, listening on o.Addr (by default a
// free loopback port) and serving in a background goroutine until
// [Server.Close], which the caller must call. It is for programs (a main, a
// demo, a CLI's serve command); tests use [NewServer]. It fails when o.Addr
// is not loopback (unless o.AllowNonLoopback) or cannot be listened on.
func New(o Options) (*Server, error) {
	s := newServer(o)
	addr := s.opts.Addr
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("authtest: address %q: %w", addr, err)
	}
	if !s.opts.AllowNonLoopback && !isLoopback(host) {
		return nil, fmt.Errorf("authtest: address %q is not loopback (set AllowNonLoopback to serve on it)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("authtest: %w", err)
	}
	s.serve(ln)
	return s, nil
}

// serve serves s on ln in a new goroutine.
func (s *Server) serve(ln net.Listener) {
	s.URL = "http://" + ln.Addr().String()
	s.life = listener{
		hs: &http.Server{
			Handler:           http.HandlerFunc(s.serveHTTP),
			ReadHeaderTimeout: 10 * time.Second,
			// net/http's own complaints go to Options.Logger, not to the
			// standard logger on stderr.
			ErrorLog:  slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
			ConnState: func(c net.Conn, st http.ConnState) { s.life.connState(c, st) },
		},
		client: &http.Client{Transport: &http.Transport{}},
		done:   make(chan struct{}),
		conns:  make(map[net.Conn]http.ConnState),
	}
	go func() {
		defer close(s.life.done)
		if err := s.life.hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.life.serveErr = fmt.Errorf("authtest: serve: %w", err)
		}
	}()
}

// Client returns an HTTP client with a transport of its own, whose idle
// connections Close closes (as httptest.Server.Client does). Using it
// rather than http.DefaultClient keeps a goroutine-leak check quiet
// without waiting. Every call returns the same client.
func (s *Server) Client() *http.Client { return s.life.client }

// Done is closed once the server has stopped serving: after Close, or when
// serving failed (Close then reports why).
func (s *Server) Done() <-chan struct{} { return s.life.done }

// Close ends every delay ([Server.StopDelays]), shuts the server down
// (waiting up to 5 seconds for requests in flight, then cutting their
// connections), waits for its goroutine to return and closes the idle
// connections of [Server.Client]. It returns the error that stopped
// serving, if it was not Close itself, or a shutdown failure; later calls
// return the same.
func (s *Server) Close() error {
	if s.life.hs == nil { // never served (in-package tests)
		s.StopDelays()
		return nil
	}
	s.life.closeOnce.Do(func() {
		s.StopDelays()
		s.life.closeQuiet()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.life.hs.Shutdown(ctx); err != nil {
			s.life.closeErr = errors.Join(fmt.Errorf("authtest: shutdown: %w", err), s.life.hs.Close())
		}
		<-s.life.done
		s.life.client.CloseIdleConnections()
		s.life.closeErr = errors.Join(s.life.serveErr, s.life.closeErr)
	})
	<-s.life.done
	return s.life.closeErr
}

// isLoopback reports whether host is exactly "localhost" or a loopback IP
// literal. Names under ".localhost" are not trusted: Go's resolver asks DNS
// for them, which may answer any address.
func isLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoadUsers reads a users file for [Options].Users: one "user:password" per
// line (split at the first colon, so passwords may contain colons), blank
// lines and lines starting with '#' ignored, surrounding spaces trimmed. An
// empty user or password, or a user listed twice, is an error naming the
// line, never the password.
func LoadUsers(r io.Reader) (map[string]string, error) {
	users := make(map[string]string)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		user, pass = strings.TrimSpace(user), strings.TrimSpace(pass)
		switch {
		case !ok:
			return nil, fmt.Errorf("authtest: users line %d: want user:password", n)
		case user == "" || pass == "":
			return nil, fmt.Errorf("authtest: users line %d: empty user or password", n)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("authtest: users line %d: user %q listed twice", n, user)
		}
		users[user] = pass
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("authtest: reading users: %w", err)
	}
	return users, nil
}
