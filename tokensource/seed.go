package tokensource

import (
	"context"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// SeedRefreshToken starts the session stored under key in store from a
// refresh token obtained elsewhere (another tool's login, a provider's
// console, an administrator): "bring your own session". It replaces
// whatever store holds under key with a session holding only that refresh
// token, taking the store's lock when it is a [storage.Locker].
//
// A [Source] with the same Store and Key (set Key explicitly: an empty one
// derives the key from the Grant's identity) then refreshes on first use:
// its Grant's Refresh spends the refresh token, once, and the session goes
// on as if the Source had logged in itself, rotation and all. The seeded
// session belongs to no identity until that first refresh saves it under
// the Grant's. If the server rejects the refresh token, the Source logs in
// with its Grant, or returns [ErrReauthRequired] for an [Interactive]
// grant. Seed before the Source's first use: a Source that already holds a
// token in memory keeps using it until it needs a new one.
func SeedRefreshToken(ctx context.Context, store storage.Store, key, refreshToken string) (err error) {
	switch {
	case store == nil || isNilPointer(store):
		return newError("seed: the store is nil")
	case key == "":
		return newError("seed: the key is empty")
	case refreshToken == "":
		return newError("seed: the refresh token is empty")
	}
	b, err := EncodeToken(&Token{RefreshToken: refreshToken})
	if err != nil {
		return err
	}
	if l, ok := store.(storage.Locker); ok {
		unlock, lerr := l.Lock(ctx, key)
		if lerr != nil {
			return errorf("seed: lock store: %w", lerr)
		}
		defer func() {
			if uerr := unlock(); uerr != nil && err == nil {
				err = errorf("seed: unlock store: %w", uerr)
			}
		}()
	}
	if perr := store.Put(ctx, key, b); perr != nil {
		return errorf("seed: %w", perr)
	}
	return nil
}
