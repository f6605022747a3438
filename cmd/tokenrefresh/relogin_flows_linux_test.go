//go:build linux

package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// fetchURL is an env.openBrowser for in-process tests: a browser that
// follows the authorization URL to the loopback listener's page.
func fetchURL(ctx context.Context, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// approveDeviceCodes approves, as the user on another device would, each
// device code srv issues, until the test ends.
func approveDeviceCodes(t *testing.T, srv *authtest.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = srv.ApproveDevice("") // an error: none pending yet
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
}

// TestReloginInteractiveFlows: when the session of a browser or device
// profile has ended, a command on a terminal runs that login again in the
// foreground (the browser opened, or the code shown) and carries on, while
// the same command in a pipe exits 3 without starting a login.
func TestReloginInteractiveFlows(t *testing.T) {
	t.Parallel()
	for _, flow := range []string{flowBrowser, flowDevice} {
		t.Run(flow, func(t *testing.T) {
			t.Parallel()
			srv := startIssuer(t, authtest.Options{PublicClient: true})
			te := newTestEnv(t, "")
			te.now = time.Now // real tokens from a real server
			te.openBrowser = fetchURL
			if flow == flowDevice {
				approveDeviceCodes(t, srv)
			}
			if code := te.run(t, "login", "--issuer", srv.IssuerURL(), "--client-id", e2eClientID, "--flow", flow, "--store", "file"); code != exitOK {
				t.Fatalf("login = %d: %s", code, te.errOut.String())
			}
			if code := te.run(t, "logout"); code != exitOK {
				t.Fatalf("logout = %d: %s", code, te.errOut.String())
			}
			logins := srv.Counters().Logins

			te.errOut.Reset()
			if code := te.run(t, "token"); code != exitReauth {
				t.Fatalf("token in a pipe = %d, want %d; stderr: %s", code, exitReauth, te.errOut.String())
			}
			if st := srv.Counters(); st.Logins != logins || st.AuthorizationCodes+st.DeviceCodes != 1 {
				t.Fatalf("a login started in a pipe: server %+v", st)
			}

			master, tty := openPTY(t)
			scr := watch(master)
			te.out.Reset()
			te.stdin, te.stderr, te.isTerminal = tty, tty, isTerminal
			code := make(chan int, 1)
			go func() { code <- te.env.run(t.Context(), []string{"token"}) }()
			select {
			case c := <-code:
				if c != exitOK {
					t.Fatalf("token on a terminal = %d; the terminal shows %q", c, scr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("token on a terminal still running after 30s; the terminal shows %q", scr.String())
			}
			scr.waitFor(t, "The session of profile default needs a new login: a "+flow+" login.")
			if flow == flowDevice {
				scr.waitFor(t, "and enter the code: ")
			} else {
				scr.waitFor(t, "Opening a browser to log in.")
			}
			if tok := strings.TrimSpace(te.out.String()); tok == "" || strings.ContainsAny(tok, " \n") {
				t.Errorf("stdout = %q, want one token", te.out.String())
			}
			if st := srv.Counters(); st.Logins != logins+1 {
				t.Errorf("server logins %d, want %d", st.Logins, logins+1)
			}
		})
	}
}
