package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/memory"
)

func Example() {
	ctx := context.Background()
	var s memory.Store // the zero value is ready to use

	if _, err := s.Get(ctx, "default"); errors.Is(err, storage.ErrNotFound) {
		fmt.Println("nothing stored yet")
	}
	if err := s.Put(ctx, "default", []byte(`{"version":1}`)); err != nil {
		fmt.Println(err)
		return
	}
	v, err := s.Get(ctx, "default")
	fmt.Println(string(v), err)
	// Output:
	// nothing stored yet
	// {"version":1} <nil>
}
