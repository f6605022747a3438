package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
)

func Example() {
	tmp, err := os.MkdirTemp("", "tokens-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)

	ctx := context.Background()
	s, err := file.New(filepath.Join(tmp, "tokenrefresh")) // created with mode 0700
	if err != nil {
		fmt.Println(err)
		return
	}

	// One refresh at a time, across processes: hold the key's lock while
	// reading, renewing and writing.
	unlock, err := s.Lock(ctx, "default")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Put(ctx, "default", []byte(`{"version":1}`)); err != nil {
		fmt.Println(err)
	}
	if err := unlock(); err != nil {
		fmt.Println(err)
	}

	v, err := s.Get(ctx, "default")
	fmt.Println(string(v), err)
	fi, _ := os.Stat(s.Path("default"))
	fmt.Println(fi.Mode().Perm())
	// Output:
	// {"version":1} <nil>
	// -rw-------
}
