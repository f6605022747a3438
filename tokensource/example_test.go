package tokensource_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// ExampleSource shows the session surviving a restart: the first Source
// logs in and saves the token; a second one, as a new process would, loads
// it, and - started again 20 minutes later, when the 15-minute access
// token has expired - refreshes it, rotating the refresh token.
func ExampleSource() {
	srv, err := authtest.New(authtest.Options{}) // in a test: authtest.NewServer(t, ...)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, err := file.New(dir)
	if err != nil {
		panic(err)
	}
	newSource := func(now func() time.Time) *tokensource.Source {
		return &tokensource.Source{
			Now: now,
			Grant: &tokensource.JSONGrant{
				LoginURL: srv.LoginURL(), RefreshURL: srv.RefreshURL(),
				Username: srv.User, Password: srv.Password,
			},
			Store: store,
			Key:   "alice@demo",
			OnEvent: func(e tokensource.Event) {
				if e.Kind == tokensource.EventLoginFinished || e.Kind == tokensource.EventRefreshFinished {
					fmt.Printf("%s (rotated: %v)\n", e.Kind, e.Rotated)
				}
			},
		}
	}
	ctx := context.Background()

	first := newSource(time.Now)
	if _, err := first.Token(ctx); err != nil {
		panic(err)
	}
	_ = first.Close(ctx) // before exit: nothing may be left unsaved

	second := newSource(time.Now) // a new process: no password needed
	tok, _ := second.Token(ctx)
	fmt.Println("loaded from the store, expired:", tok.ExpiredAt(time.Now()))
	_ = second.Close(ctx)

	later := func() time.Time { return time.Now().Add(20 * time.Minute) }
	third := newSource(later) // the next run, 20 minutes later
	if _, err := third.Token(ctx); err != nil {
		panic(err)
	}
	_ = third.Close(ctx)
	fmt.Println("logins:", srv.Counters().Logins, "refreshes:", srv.Counters().Refreshes)
	// Output:
	// login_finished (rotated: false)
	// loaded from the store, expired: false
	// refresh_finished (rotated: true)
	// logins: 1 refreshes: 1
}
