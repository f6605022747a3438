package crossprocess

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// Environment variables that turn the test binary into a child process.
const (
	envMode     = "CROSSPROCESS_MODE" // "worker" or "crasher"
	envURL      = "CROSSPROCESS_URL"
	envDir      = "CROSSPROCESS_DIR"
	envDuration = "CROSSPROCESS_DURATION"
	envGrant    = "CROSSPROCESS_GRANT" // "json" (default) or "oauth2"
	key         = "alice@demo"
)

// workerReport is what a worker prints when it is done.
type workerReport struct {
	Requests, Failures, Logins, Refreshes, Adopted, RefreshFailures int
	FirstFailure                                                    string
}

// newSource returns a Source of grant ("json" or "oauth2") on the demo
// server at base, storing in store or, when store is nil, in a file store
// in dir.
func newSource(grant, dir, base string, store storage.Store, onEvent func(tokensource.Event)) (*tokensource.Source, error) {
	if store == nil {
		s, err := file.New(dir)
		if err != nil {
			return nil, err
		}
		store = s
	}
	var g tokensource.Grant = &tokensource.JSONGrant{
		LoginURL: base + "/auth/login", RefreshURL: base + "/auth/refresh",
		Username: "alice", Password: "wonderland",
	}
	if grant == "oauth2" {
		g = &tokensource.PasswordGrant{
			TokenURL: base + "/oauth2/token", ClientID: authtest.DefaultClientID, ClientSecret: authtest.DefaultClientSecret,
			Username: "alice", Password: "wonderland",
		}
	}
	return &tokensource.Source{Grant: g, Store: store, Key: key, OnEvent: onEvent}, nil
}

// runChild runs the child process named by the environment and returns its
// exit code.
func runChild(mode string) int {
	var err error
	switch mode {
	case "worker":
		err = worker()
	case "crasher":
		err = crasher()
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// worker makes requests through the refreshing transport for a while and
// reports what happened as JSON on stdout.
func worker() error {
	d, err := time.ParseDuration(os.Getenv(envDuration))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var rep workerReport
	src, err := newSource(os.Getenv(envGrant), os.Getenv(envDir), os.Getenv(envURL), nil, func(e tokensource.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case tokensource.EventLoginFinished:
			rep.Logins++
		case tokensource.EventRefreshFinished:
			rep.Refreshes++
		case tokensource.EventTokenAdopted:
			rep.Adopted++
		case tokensource.EventRefreshFailed:
			rep.RefreshFailures++
		}
	})
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &transport.Transport{Source: src}, Timeout: 30 * time.Second}
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline) && i < 100000; i++ {
		ok, why := get(client, os.Getenv(envURL)+"/api/profile")
		mu.Lock()
		rep.Requests++
		if !ok {
			rep.Failures++
			if rep.FirstFailure == "" {
				rep.FirstFailure = why
			}
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := src.Close(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

func get(client *http.Client, url string) (bool, string) {
	resp, err := client.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return false, resp.Status
	}
	return true, ""
}

// crasher forces one refresh after another until it is killed, printing a
// marker for each step so the parent knows where the kill fell:
//
//	I intent write started    i intent written (the refresh token is marked as being sent)
//	B refresh request about to be sent    F refresh answered (rotated)
//	L logged in                           S save started    D save done
func crasher() error {
	mark := func(m string) { _, _ = os.Stdout.WriteString(m + "\n") }
	inner, err := file.New(os.Getenv(envDir))
	if err != nil {
		return err
	}
	src, err := newSource(os.Getenv(envGrant), "", os.Getenv(envURL), markingStore{inner, mark}, func(e tokensource.Event) {
		switch e.Kind {
		case tokensource.EventRefreshStarted:
			mark("B")
		case tokensource.EventRefreshFinished:
			mark("F")
		case tokensource.EventLoginFinished:
			mark("L")
		}
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	tok, err := src.Token(ctx)
	if err != nil {
		return err
	}
	mark("ready")
	for i := 0; i < 1_000_000; i++ {
		if tok, err = src.Renew(ctx, tok); err != nil {
			return err
		}
	}
	return nil
}

// markingStore reports the start and end of every Put.
type markingStore struct {
	*file.Store
	mark func(string)
}

func (m markingStore) Put(ctx context.Context, key string, value []byte) error {
	start, done := "S", "D"
	if tok, err := tokensource.DecodeToken(value); err == nil {
		if _, pending := tok.RefreshPending(); pending {
			start, done = "I", "i"
		}
	}
	m.mark(start)
	err := m.Store.Put(ctx, key, value)
	m.mark(done)
	return err
}

// Reserve passes the file store's reservation through, marking its commit
// as a save.
func (m markingStore) Reserve(ctx context.Context, key string, size int) (storage.Reservation, error) {
	res, err := m.Store.Reserve(ctx, key, size)
	if err != nil {
		return nil, err
	}
	return markingReservation{res, m.mark}, nil
}

type markingReservation struct {
	storage.Reservation
	mark func(string)
}

func (m markingReservation) Commit(ctx context.Context, value []byte) error {
	start, done := "S", "D"
	if tok, err := tokensource.DecodeToken(value); err == nil {
		if _, pending := tok.RefreshPending(); pending {
			start, done = "I", "i"
		}
	}
	m.mark(start)
	err := m.Reservation.Commit(ctx, value)
	m.mark(done)
	return err
}
