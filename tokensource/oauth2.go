package tokensource

import (
	"context"

	"golang.org/x/oauth2"
)

// OAuth2 returns s as an [oauth2.TokenSource], for libraries that take one
// (oauth2.NewClient, Google API clients, ...). Each Token call uses ctx,
// which should therefore live as long as the returned value is used.
//
// The oauth2.Token it returns carries the access token, canonical token
// type and expiry, but never the refresh token: refreshing stays with s, so
// no second party can spend a single-use refresh token behind its back.
//
// What is lost: an oauth2.TokenSource has no way to hear that a server
// rejected a token, so through oauth2.NewClient a token the server revoked
// keeps being sent (every request answered 401) until its clock expiry.
// Use [github.com/tokenrefresh/tokenrefresh/transport.Transport] on s
// instead where renewal on 401 matters.
func (s *Source) OAuth2(ctx context.Context) oauth2.TokenSource {
	return oauth2Source{s: s, ctx: ctx}
}

type oauth2Source struct {
	s   *Source
	ctx context.Context // documented long-lived context, see Source.OAuth2
}

func (o oauth2Source) Token() (*oauth2.Token, error) {
	t, err := o.s.Token(o.ctx)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.Type(), Expiry: t.Expiry}, nil
}
