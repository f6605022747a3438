package tokensource

import (
	"context"
	"crypto/subtle"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// redirectShutdown bounds how long closing the redirect listener waits for
// the page it is serving.
const redirectShutdown = 2 * time.Second

// redirectListener receives the browser's redirect of one login on a
// loopback port (RFC 8252 section 7.3). It takes only the first redirect
// to its path; everything else is answered and ignored.
type redirectListener struct {
	uri    string // the redirect_uri sent to the server
	path   string
	state  string
	srv    *http.Server
	served chan struct{} // closed when Serve has returned
	// result holds the first redirect's outcome (buffered, size 1).
	result    chan redirectResult
	closeOnce sync.Once
}

// redirectResult is what a redirect brought: a code, or why there is none.
type redirectResult struct {
	code string
	err  error
}

// listenRedirect listens on 127.0.0.1:port (0 for a free port) and serves
// the redirect path until close.
func listenRedirect(port int, path, state string) (*redirectListener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, errorf("login: listening for the browser's redirect: %w", err)
	}
	l := &redirectListener{
		uri:    fmt.Sprintf("http://127.0.0.1:%d%s", ln.Addr().(*net.TCPAddr).Port, path),
		path:   path,
		state:  state,
		served: make(chan struct{}),
		result: make(chan redirectResult, 1),
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // never the standard logger
	}
	go func() {
		defer close(l.served)
		_ = l.srv.Serve(ln) // ErrServerClosed once close runs
	}()
	return l, nil
}

// close stops listening, lets a page being served finish (briefly), and
// waits until the serving goroutine has returned. It may be called more
// than once.
func (l *redirectListener) close() {
	l.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), redirectShutdown)
		defer cancel()
		if err := l.srv.Shutdown(ctx); err != nil {
			_ = l.srv.Close()
		}
		<-l.served
	})
}

// ServeHTTP takes the redirect: the first GET of the path decides the
// login; later ones get a page saying it is over.
func (l *redirectListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != l.path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	res := l.outcome(r.URL.Query())
	select {
	case l.result <- res:
	default:
		page(w, http.StatusConflict, "Login already finished",
			"This login has already received an answer. Return to the terminal.")
		return
	}
	if res.err != nil {
		page(w, http.StatusBadRequest, "Login failed",
			serverText(bareMessage(res.err), 300)+". Return to the terminal for details.")
		return
	}
	page(w, http.StatusOK, "Logged in", "You can close this window and return to the terminal.")
}

// outcome reads a redirect's parameters (RFC 6749 section 4.1.2): the
// state first, so that a forged redirect decides nothing else.
func (l *redirectListener) outcome(q url.Values) redirectResult {
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(l.state)) != 1 {
		return redirectResult{err: ErrStateMismatch}
	}
	if code := q.Get("error"); code != "" {
		return redirectResult{err: &AuthorizationError{Code: serverText(code, 64),
			Description: serverText(q.Get("error_description"), 200)}}
	}
	code := q.Get("code")
	if code == "" {
		return redirectResult{err: newError("login: the browser's redirect carried neither a code nor an error")}
	}
	return redirectResult{code: code}
}

// page answers a small HTML page that loads nothing, leaks no referrer
// and is never cached.
func page(w http.ResponseWriter, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%[1]s</title>
<style>body{font-family:sans-serif;margin:4em auto;max-width:36em}</style></head>
<body><h1>%[1]s</h1><p>%[2]s</p></body></html>
`, html.EscapeString(title), html.EscapeString(text))
}
