package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/keyring"
)

// This example needs a running Secret Service (or Keychain, or Credential
// Manager), so it is compiled but not run.
func Example() {
	ctx := context.Background()
	s := keyring.New("my-app")
	s.Timeout = 3 * time.Second // never wait longer for one keyring call

	if err := s.Put(ctx, "alice", []byte(`{"version":1}`)); err != nil {
		var ue *keyring.UnavailableError
		if errors.As(err, &ue) {
			fmt.Println("no usable keyring:", err)
		}
		return
	}
	v, err := s.Get(ctx, "alice")
	switch {
	case errors.Is(err, storage.ErrNotFound):
		fmt.Println("not logged in")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(string(v))
	}
}
