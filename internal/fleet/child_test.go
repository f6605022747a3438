package fleet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// Settings every worker's Source shares with the harness's figures.
const (
	// earlyRefresh is the Source's early-refresh margin: half the 2 s
	// token lifetime (the most a Source allows), so that an engine
	// restart or a takeover has a whole second before tokens expire.
	earlyRefresh = time.Second
	// inFlightWait bounds how long a worker that finds another's refresh
	// in flight waits for its answer before logging in. The default (10 s)
	// would stall the fleet for 10 s after each kill in the rotation
	// window; a second is enough for a live refresh on loopback.
	inFlightWait = time.Second
	// requestTimeout bounds one request, including a wait for a refresh.
	requestTimeout = 10 * time.Second
)

// A child writes one line per fact on stdout, unbuffered, so that the
// harness knows everything a killed child did up to the kill:
//
//	ready                 the store is open, requests start
//	r ok | r fail <why>   one request and its outcome
//	m <marker>            a step of a rotation (see window)
//	done                  the Source was closed cleanly after SIGTERM
//	locked <unix nanos>   (holder, waiter) the store's lock was taken
//	waiting               (waiter) about to wait for the lock
//
// The rotation markers, each written before the step it names (so a kill
// after a marker fell at or after that step):
//
//	I intent write started     i intent written    x intent write failed
//	B refresh request sent     F refresh answered
//	l login request sent       L login answered
//	S save started             D saved             d save failed
//	A another's token adopted  X refresh or login failed
type out struct{ mu sync.Mutex }

func (o *out) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = io.WriteString(os.Stdout, s+"\n")
}

func (o *out) mark(m string) { o.line("m " + m) }

// runChild runs the child process named by mode and returns its exit code.
func runChild(mode string) int {
	var err error
	switch mode {
	case "worker":
		err = worker()
	case "holder", "waiter":
		err = locker(mode)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// worker makes requests through the refreshing transport until SIGTERM,
// then closes its Source and says "done".
func worker() error {
	cfg, err := configFromEnv()
	if err != nil {
		return err
	}
	pace, err := time.ParseDuration(os.Getenv(envPace))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	store, closeStore, err := cfg.open(openCtx)
	if err != nil {
		return err
	}
	defer closeStore()
	var o out
	src := newSource(os.Getenv(envAuth), markingStore{store, o.mark}, func(e tokensource.Event) {
		switch e.Kind {
		case tokensource.EventRefreshStarted:
			o.mark("B")
		case tokensource.EventRefreshFinished:
			o.mark("F")
		case tokensource.EventLoginStarted:
			o.mark("l")
		case tokensource.EventLoginFinished:
			o.mark("L")
		case tokensource.EventTokenAdopted:
			o.mark("A")
		case tokensource.EventRefreshFailed, tokensource.EventLoginFailed:
			o.mark("X")
		}
	})
	client := &http.Client{Transport: &transport.Transport{Source: src}, Timeout: requestTimeout}
	api := os.Getenv(envAuth) + "/api/profile"
	o.line("ready")
	for i := 0; ctx.Err() == nil && i < 10_000_000; i++ {
		// The request runs on its own context: SIGTERM ends the loop
		// between requests and never fails one.
		if ok, why := get(client, api); ok {
			o.line("r ok")
		} else {
			o.line("r fail " + why)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pace):
		}
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelClose()
	if err := src.Close(closeCtx); err != nil {
		return err
	}
	o.line("done")
	return nil
}

// newSource returns a Source of the fleet's session on store, logging in
// with the password grant of the authorization server at auth.
func newSource(auth string, store fleetStore, onEvent func(tokensource.Event)) *tokensource.Source {
	return &tokensource.Source{
		Grant: &tokensource.PasswordGrant{
			TokenURL: auth + "/oauth2/token", ClientID: authtest.DefaultClientID, ClientSecret: authtest.DefaultClientSecret,
			Username: authtest.DefaultUser, Password: authtest.DefaultPassword,
		},
		Store: store, Key: key, OnEvent: onEvent,
		EarlyRefresh: earlyRefresh, InFlightWait: inFlightWait,
	}
}

func get(client *http.Client, url string) (bool, string) {
	resp, err := client.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return false, resp.Status
	}
	return true, ""
}

// locker takes the session's lock. A holder then keeps it until it is
// killed (or for a minute); a waiter says "waiting", waits for the lock,
// reports when it got it and releases it.
func locker(mode string) error {
	cfg, err := configFromEnv()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	store, closeStore, err := cfg.open(ctx)
	if err != nil {
		return err
	}
	defer closeStore()
	var o out
	if mode == "waiter" {
		o.line("waiting")
	}
	unlock, err := store.Lock(ctx, key)
	if err != nil {
		return err
	}
	o.line("locked " + strconv.FormatInt(time.Now().UnixNano(), 10))
	if mode == "holder" {
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute):
		}
	}
	return unlock()
}

// markingStore marks the start and end of every write of the session.
type markingStore struct {
	fleetStore
	mark func(string)
}

// write runs one write of value, marked: I then i (x if it failed) for an
// intent, S then D (d if it failed) for any other token.
func (m markingStore) write(value []byte, w func() error) error {
	start, done, failed := "S", "D", "d"
	if tok, err := tokensource.DecodeToken(value); err == nil {
		if _, pending := tok.RefreshPending(); pending {
			start, done, failed = "I", "i", "x"
		}
	}
	m.mark(start)
	err := w()
	if err != nil {
		done = failed
	}
	m.mark(done)
	return err
}

func (m markingStore) Put(ctx context.Context, key string, value []byte) error {
	return m.write(value, func() error { return m.fleetStore.Put(ctx, key, value) })
}

func (m markingStore) CompareAndSwap(ctx context.Context, key string, gen int64, value []byte) (newGen int64, err error) {
	err = m.write(value, func() error {
		newGen, err = m.fleetStore.CompareAndSwap(ctx, key, gen, value)
		return err
	})
	return newGen, err
}
