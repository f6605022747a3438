package tokensource

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// countingTransport counts the requests it carries to its base.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// TestGrantCopiesKeepTheirClients: grants share the retrying client
// behind their token requests, yet a copy of a grant given another
// HTTPClient sends through that one, concurrently with the original.
func TestGrantCopiesKeepTheirClients(t *testing.T) {
	srv := benchTokenServer(t)
	first := &countingTransport{base: srv.Client().Transport}
	second := &countingTransport{base: srv.Client().Transport}
	g := PasswordGrant{TokenURL: srv.URL + "/token", ClientID: "cli", ClientSecret: "s3cret",
		HTTPClient: &http.Client{Transport: first}}
	copied := g
	copied.HTTPClient = &http.Client{Transport: second}
	const n = 20
	var wg sync.WaitGroup
	for range n {
		for _, g := range []*PasswordGrant{&g, &copied} {
			wg.Go(func() {
				if tok, err := g.Refresh(t.Context(), "rt-0"); err != nil || tok.AccessToken != "at-1" {
					t.Errorf("Refresh() = %v, %v", tok, err)
				}
			})
		}
	}
	wg.Wait()
	if first.n.Load() != n || second.n.Load() != n {
		t.Fatalf("transports carried %d and %d requests, want %d each", first.n.Load(), second.n.Load(), n)
	}
}
