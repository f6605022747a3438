package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// TestGetParallelSharesOneRefresh: 16 URLs fetched 8 at a time share one
// refresh, whether the stored access token expired (fake clock: the token
// is refreshed once before the fetches start) or the server revoked it
// (the 16 requests get 401s together and renew through one refresh).
func TestGetParallelSharesOneRefresh(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"expired", "revoked"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			clock := fakeclock.New(time.Now())
			srv := authtest.NewServer(t, authtest.Options{AccessTTL: time.Minute, Now: clock.Now})
			te := newTestEnv(t, "wonderland\n")
			te.now = clock.Now
			if code := te.run(t, "login", "--login-url", srv.LoginURL(), "--refresh-url", srv.RefreshURL(),
				"--username", "alice", "--password-stdin", "--store", "file"); code != exitOK {
				t.Fatalf("login = %d: %s", code, te.errOut.String())
			}
			if how == "expired" {
				clock.Advance(time.Minute + time.Second)
			} else {
				srv.RevokeAccessTokens()
			}
			args := []string{"get", "--parallel", "8"}
			for i := range 16 {
				args = append(args, fmt.Sprintf("%s/api/items/%d", srv.URL, i%3+1))
			}
			te.out.Reset()
			if code := te.run(t, args...); code != exitOK {
				t.Fatalf("get = %d: %s", code, te.errOut.String())
			}
			if n := strings.Count(te.out.String(), `"id":`); n != 16 {
				t.Errorf("got %d bodies, want 16:\n%s", n, te.out.String())
			}
			if !strings.HasPrefix(te.out.String(), `{"id":1,`) {
				t.Errorf("bodies not in argument order: %q", te.out.String())
			}
			if st := srv.Counters(); st.Refreshes != 1 || st.Logins != 1 {
				t.Errorf("server counters %+v, want 1 refresh shared by 16 requests and 1 login", st)
			}
		})
	}
}
