// Command tokenrefresh logs in to an OAuth2 token endpoint or an in-house
// JSON login API, keeps the session fresh (refresh-token rotation, persisted
// before use) and fetches URLs through the refreshing transport. Run
// "tokenrefresh demo" to watch it work against a built-in demo server.
package main

import (
	"context"
	"os"
)

func main() {
	ctx, stop := notifyContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
