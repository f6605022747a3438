package tokensource

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/tmpfs"
	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// TestSourceOnAFullOrReadOnlyDisk keeps the session in a file store on a
// small tmpfs (root only; CI requires it) and takes the disk away twice:
// filled up, then remounted read-only. Each time the refresh must not be
// sent (the answer could not be saved), the caller must learn why, and once
// the disk is back the session must continue with no new login and no
// replay of a spent refresh token, in this process and in the next.
func TestSourceOnAFullOrReadOnlyDisk(t *testing.T) {
	dir := tmpfs.Mount(t, "256k")
	clock := newSTClock()
	ds := authtest.NewServer(t, authtest.Options{Now: clock.Now})
	newSource := func() *Source {
		store, err := file.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		src := &Source{Grant: &JSONGrant{LoginURL: ds.LoginURL(), RefreshURL: ds.RefreshURL(),
			Username: "alice", Password: "wonderland", Now: clock.Now}, Store: store, Key: "alice", Now: clock.Now}
		t.Cleanup(func() { _ = src.Close(context.Background()) })
		return src
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := newSource()
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}

	faults := []struct {
		name    string
		want    error
		break_  func() (repair func())
		freshly bool // continue in a new Source, as the next run would
	}{
		{"disk full", storage.ErrNoSpace, func() func() { return tmpfs.Fill(t, dir) }, false},
		{"read-only", storage.ErrReadOnly, func() func() {
			tmpfs.RemountReadOnly(t, dir)
			return func() { tmpfs.RemountReadWrite(t, dir) }
		}, true},
	}
	for _, f := range faults {
		before := ds.Counters()
		repair := f.break_()
		clock.Advance(time.Hour)
		_, err := src.Token(ctx)
		if !errors.Is(err, ErrStoreUnwritable) || !errors.Is(err, f.want) {
			repair()
			t.Fatalf("%s: Token() = %v, want ErrStoreUnwritable and %v", f.name, err, f.want)
		}
		if st := ds.Counters(); st.RefreshRequests != before.RefreshRequests {
			repair()
			t.Fatalf("%s: the refresh token was sent although its answer could not be saved", f.name)
		}
		repair()
		if f.freshly {
			src = newSource()
		}
		clock.Advance(time.Minute) // past the pause after a failure
		if _, err := src.Token(ctx); err != nil {
			t.Fatalf("%s: after the repair Token() = %v", f.name, err)
		}
	}
	st := ds.Counters()
	if st.Logins != 1 || st.Reuses != 0 || st.Refreshes != 2 || st.MaxPresentations != 1 {
		t.Fatalf("server: %d logins, %d refreshes, %d replays, max %d sends of a refresh token; want 1, 2, 0, 1",
			st.Logins, st.Refreshes, st.Reuses, st.MaxPresentations)
	}
}
