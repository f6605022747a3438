package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// globalOptions holds the persistent flags: every session command takes
// them, before or after its name ("tokenrefresh --profile work status").
type globalOptions struct {
	profile   string
	configDir string
	// storeURL is --store-url: where a postgres or redis store lives.
	storeURL string
}

func (g *globalOptions) register(root *cobra.Command, e *env) {
	pf := root.PersistentFlags()
	pf.StringVarP(&g.profile, "profile", "p", "default", "profile `name`")
	pf.StringVar(&g.configDir, "config-dir", "", "state `dir`ectory (default $TOKENREFRESH_CONFIG_DIR, else the user config directory + /tokenrefresh)")
	pf.StringVar(&g.storeURL, "store-url", "", "`URL` of a postgres or redis store (default: the profile's, else $PGHOST… or $REDIS_URL); a password in it is never saved")
	_ = root.RegisterFlagCompletionFunc("profile", g.completeProfiles(e))
	_ = root.MarkPersistentFlagDirname("config-dir")
}

// completeProfiles completes --profile with the saved profiles' names.
func (g *globalOptions) completeProfiles(e *env) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		dir, err := e.configDir(g.configDir)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		files, _ := filepath.Glob(filepath.Join(dir, "profiles", "*.json"))
		var names []cobra.Completion
		for _, f := range files {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// fixedValues completes a flag with a fixed list of values.
func fixedValues(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// noArgs is the Args check of commands that take no arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unexpected argument %q", args[0])
	}
	return nil
}

// usageErr is a usage error: exit 2, with a pointer to the command's help.
func usageErr(format string, a ...any) error {
	return &codedError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// timeoutOption is the --timeout flag of a command that waits on the
// network, with TOKENREFRESH_TIMEOUT as its default.
type timeoutOption struct {
	d time.Duration
}

func (t *timeoutOption) register(c *cobra.Command) {
	c.Flags().DurationVar(&t.d, "timeout", 0, "give up after `duration` (such as 30s), refresh and re-login included; 0: no limit (default $TOKENREFRESH_TIMEOUT, else none)")
}

// resolve applies TOKENREFRESH_TIMEOUT when --timeout was not given.
func (t *timeoutOption) resolve(c *cobra.Command, e *env) error {
	if !c.Flags().Changed("timeout") {
		if v := e.getenv("TOKENREFRESH_TIMEOUT"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return usageErr("TOKENREFRESH_TIMEOUT=%q: want a duration such as 30s", v)
			}
			t.d = d
		}
	}
	if t.d < 0 {
		return usageErr("--timeout must not be negative, not %s", t.d)
	}
	return nil
}

// run runs fn under the timeout, if any. When the deadline cut fn short,
// the error says so.
func (t *timeoutOption) run(ctx context.Context, fn func(context.Context) error) error {
	if t.d == 0 {
		return fn(ctx)
	}
	tctx, cancel := context.WithTimeoutCause(ctx, t.d, errTimedOut)
	defer cancel()
	err := fn(tctx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(tctx), errTimedOut) {
		return fmt.Errorf("gave up after %s (--timeout): %w", t.d, err)
	}
	return err
}

// errTimedOut is the cause of a context that --timeout ended.
var errTimedOut = errors.New("timed out")
