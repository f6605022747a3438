package auto_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tokenrefresh/tokenrefresh/storage/auto"
)

// Open reports the backend it chose; tell the user when tokens go to plain
// files. The result depends on the machine, so this example is not run.
func ExampleOpen() {
	s, backend, err := auto.Open(context.Background(), auto.Options{
		Service: "my-app",
		OnFallback: func(reason error) {
			fmt.Fprintf(os.Stderr, "warning: OS keyring not used (%v); storing tokens in files\n", reason)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println("tokens stored in the", backend, "backend")
	_ = s
}
