package demoserver

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
	"time"
)

// shutdownTimeout bounds how long Close waits for in-flight requests before
// cutting their connections.
const shutdownTimeout = 5 * time.Second

// Running is a [Server] listening on a real socket, started by [Start].
// The caller must call Close when done with it; Close and Done are safe for
// concurrent use, and calling Close again is harmless.
type Running struct {
	// URL is the base URL, such as "http://127.0.0.1:41234" (no trailing
	// slash).
	URL string
	// Server is the handler being served, for its test hooks and Stats.
	Server *Server

	srv      *http.Server
	done     chan struct{} // closed when the serve goroutine returns
	serveErr error         // written before done is closed
	// closeOnce guards closeErr.
	closeOnce sync.Once
	closeErr  error
}

// Start listens on addr and serves New(cfg) in a background goroutine until
// [Running.Close]. addr "" means "127.0.0.1:0" (a free loopback port). Unless
// cfg.AllowNonLoopback is set, addr must name a loopback host ("localhost"
// or a loopback IP); an empty host (":8080", every interface) is refused.
func Start(addr string, cfg Config) (*Running, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("demoserver: address %q: %w", addr, err)
	}
	if !cfg.AllowNonLoopback && !isLoopback(host) {
		return nil, fmt.Errorf("demoserver: address %q is not loopback (set AllowNonLoopback to serve on it)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demoserver: %w", err)
	}
	s := New(cfg)
	r := &Running{
		URL:    "http://" + ln.Addr().String(),
		Server: s,
		srv: &http.Server{
			Handler:           s,
			ReadHeaderTimeout: 10 * time.Second,
			// net/http's own complaints go to cfg.Logger, not to the
			// standard logger on stderr.
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(r.done)
		if err := r.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			r.serveErr = fmt.Errorf("demoserver: serve: %w", err)
		}
	}()
	return r, nil
}

// StartContext is [Start], plus a goroutine that calls [Running.Close] when
// ctx is done. The caller should still call Close to wait for the shutdown.
func StartContext(ctx context.Context, addr string, cfg Config) (*Running, error) {
	r, err := Start(addr, cfg)
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = r.Close()
		case <-r.done:
		}
	}()
	return r, nil
}

// Done is closed once the server has stopped serving: after Close, or when
// serving failed (Close then reports why).
func (r *Running) Done() <-chan struct{} { return r.done }

// Close stops delays, shuts the server down (waiting up to 5 seconds for
// in-flight requests, then closing their connections) and waits for the
// serve goroutine to return. It returns the error that stopped serving, if
// it was not Close itself, or a shutdown failure; later calls return the
// same.
func (r *Running) Close() error {
	r.closeOnce.Do(func() {
		r.Server.StopDelays()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := r.srv.Shutdown(ctx); err != nil {
			r.closeErr = errors.Join(fmt.Errorf("demoserver: shutdown: %w", err), r.srv.Close())
		}
		<-r.done
		r.closeErr = errors.Join(r.serveErr, r.closeErr)
	})
	<-r.done
	return r.closeErr
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

// LoadUsers reads a users file: one "user:password" per line (split at the
// first colon, so passwords may contain colons), blank lines and lines
// starting with '#' ignored, surrounding spaces trimmed. An empty user or
// password, or a user listed twice, is an error naming the line, never the
// password.
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
			return nil, fmt.Errorf("demoserver: users line %d: want user:password", n)
		case user == "" || pass == "":
			return nil, fmt.Errorf("demoserver: users line %d: empty user or password", n)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("demoserver: users line %d: user %q listed twice", n, user)
		}
		users[user] = pass
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("demoserver: reading users: %w", err)
	}
	return users, nil
}
