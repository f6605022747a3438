package tokensource

import (
	"context"
	"errors"
	"testing"
)

// idGrant gives an stGrant an identity, as two users of one server.
type idGrant struct {
	*stGrant
	id string
}

func (g idGrant) Identity() string { return g.id }

func TestSourceKeepsIdentitiesApart(t *testing.T) {
	e := newSTEnv(t)
	alice := &Source{Grant: idGrant{e.grant, "https://auth.example user=alice"}, Store: e.store, Now: e.clock.Now}
	bob := &Source{Grant: idGrant{e.grant, "https://auth.example user=bob"}, Store: e.store, Now: e.clock.Now}
	a, b := stToken(t, alice), stToken(t, bob)
	if a.AccessToken == b.AccessToken {
		t.Fatal("bob was handed alice's session")
	}
	if logins, _, _ := e.grant.counts(); logins != 2 || len(e.store.m) != 2 {
		t.Fatalf("logins = %d, stored sessions = %d; want 2 and 2", logins, len(e.store.m))
	}
	// A new process for bob finds bob's session, not alice's.
	bob2 := &Source{Grant: idGrant{e.grant, "https://auth.example user=bob"}, Store: e.store, Now: e.clock.Now}
	if got := stToken(t, bob2); got.AccessToken != b.AccessToken {
		t.Fatal("bob's next run did not find bob's session")
	}
}

func TestSourceRefusesAnotherIdentityUnderOneKey(t *testing.T) {
	e := newSTEnv(t)
	alice := &Source{Grant: idGrant{e.grant, "user=alice"}, Store: e.store, Key: "shared", Now: e.clock.Now}
	stToken(t, alice)
	bob := &Source{Grant: idGrant{e.grant, "user=bob"}, Store: e.store, Key: "shared", Now: e.clock.Now}
	var ie *IdentityError
	if _, err := bob.Token(context.Background()); !errors.As(err, &ie) || ie.Stored != "user=alice" || ie.Want != "user=bob" {
		t.Fatalf("bob.Token() = %v, want an IdentityError naming alice and bob", err)
	}
	if _, err := bob.Stored(context.Background()); !errors.As(err, &ie) {
		t.Fatalf("bob.Stored() = %v, want an IdentityError", err)
	}
	// An explicit login replaces the session; then alice is refused.
	if _, err := bob.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	alice2 := &Source{Grant: idGrant{e.grant, "user=alice"}, Store: e.store, Key: "shared", Now: e.clock.Now}
	if _, err := alice2.Token(context.Background()); !errors.As(err, &ie) {
		t.Fatalf("alice after bob's login: Token() = %v, want an IdentityError", err)
	}
}

func TestSourceTypedNilConfigIsAnErrorNotAPanic(t *testing.T) {
	var store *stStore
	var grant *PasswordGrant
	for name, src := range map[string]*Source{
		"nil store pointer": {Grant: newSTGrant(newSTClock().Now), Store: store},
		"nil grant pointer": {Grant: grant},
		"nil grant":         {},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := src.Token(context.Background()); err == nil {
				t.Fatal("Token() = nil error")
			}
			if _, err := src.Stored(context.Background()); err == nil {
				t.Fatal("Stored() = nil error")
			}
		})
	}
}
