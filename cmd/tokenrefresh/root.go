package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// errShownUsage is returned when the usage text itself, printed to stderr,
// was the error report (tokenrefresh run with no command): exit 2, nothing
// more to print.
var errShownUsage = errors.New("usage shown")

// Command groups, in the order the top-level help lists them.
const (
	groupSession = "session"
	groupDemo    = "demo"
	groupOther   = "other"
)

// noProfile marks (in Annotations) a command that reads no profile, so its
// help leaves out the global --profile and --config-dir flags.
const noProfile = "tokenrefresh/no-profile"

// usageLines (in Annotations) replaces a command's one usage line with
// several, one per line.
const usageLines = "tokenrefresh/usage"

const rootLong = `tokenrefresh keeps an OAuth2 or JSON-API session fresh: it renews the access
token on expiry or on a 401, rotates and saves the refresh token before use,
and logs in again when it must.`

// runners replaces the run functions of commands, so tests can check how
// arguments are parsed without running anything (cli/cli's runF). A nil
// field runs the command.
type runners struct {
	login  func(context.Context, *loginOptions) error
	get    func(context.Context, *getOptions) error
	status func(context.Context, *statusOptions) error
	token  func(context.Context, *tokenOptions) error
	logout func(context.Context, *logoutOptions) error
}

// newRootCmd builds the command tree over e. Each call builds a fresh tree,
// so nothing is shared between runs.
func newRootCmd(e *env, r runners) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:     "tokenrefresh <command> [flags] [args]",
		Short:   "keep an OAuth2 or JSON-API session fresh",
		Long:    rootLong,
		Version: versionText(e.buildInfo),
		// The root runs only when no command was found: with no
		// arguments it shows its usage, else it names the unknown
		// command and suggests the nearest ones.
		Args:          cobra.ArbitraryArgs,
		RunE:          func(cmd *cobra.Command, args []string) error { return unknownCommand(e, cmd, args) },
		SilenceErrors: true, // report prints each error once
		SilenceUsage:  true, // usage only for a usage error, and only when asked
		// "did you mean": names within two edits, or starting with what
		// was typed.
		SuggestionsMinimumDistance: 2,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate("{{.Version}}")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { fmt.Fprint(c.OutOrStdout(), helpText(c)) })
	g.register(root, e)

	root.AddGroup(
		&cobra.Group{ID: groupSession, Title: "Session commands:"},
		&cobra.Group{ID: groupDemo, Title: "Demo commands:"},
		&cobra.Group{ID: groupOther, Title: "Other commands:"},
	)
	for _, c := range []*cobra.Command{
		newLoginCmd(e, g, r.login), newGetCmd(e, g, r.get), newStatusCmd(e, g, r.status),
		newTokenCmd(e, g, r.token), newLogoutCmd(e, g, r.logout),
	} {
		c.GroupID = groupSession
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newDemoCmd(e, nil), newServeDemoCmd(e, nil)} {
		c.GroupID = groupDemo
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd(e))
	root.SetHelpCommand(newHelpCmd())
	root.SetHelpCommandGroupID(groupOther)
	root.SetCompletionCommandGroupID(groupOther)
	root.InitDefaultCompletionCmd()
	tightenCompletionCmd(root)
	return root
}

// unknownCommand is the root's action: no command (show the usage on
// stderr, exit 2), or one that does not exist (say so, with suggestions).
func unknownCommand(e *env, root *cobra.Command, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, helpText(root))
		return errShownUsage
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if names := root.SuggestionsFor(args[0]); len(names) > 0 {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = strconv.Quote(n)
		}
		msg += "; did you mean " + strings.Join(quoted, " or ") + "?"
	}
	return usageErr("%s", msg)
}

// newHelpCmd is "help [command]": the command's help on stdout, or a usage
// error for a command that does not exist (cobra's own prints the top-level
// help and exits 0).
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "help [command]",
		Short:       "show the help of a command",
		Long:        "Shows the help of a command; 'tokenrefresh help get' is 'tokenrefresh get --help'.",
		Annotations: map[string]string{noProfile: "true"},
		Args:        cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			for _, sub := range c.Root().Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 || (len(args) > 0 && target == c.Root()) {
				return usageErr("no help for %q: no such command", strings.Join(args, " "))
			}
			// As when target runs with --help: its own flags are
			// added as it runs.
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// tightenCompletionCmd makes "completion" with no shell, or an unknown
// one, a usage error (exit 2); cobra's default shows the help and exits 0.
func tightenCompletionCmd(root *cobra.Command) {
	c, _, err := root.Find([]string{"completion"})
	if err != nil || c == root {
		return
	}
	c.Use = "completion bash|zsh|fish|powershell"
	c.DisableFlagsInUseLine = true
	c.Short = "print a shell completion script (bash, zsh, fish, powershell)"
	c.Long = `Prints the completion script for a shell, which completes commands, flags,
flag values and saved profile names. To load it:

  bash:        source <(tokenrefresh completion bash)
  zsh:         tokenrefresh completion zsh > "${fpath[1]}/_tokenrefresh"
  fish:        tokenrefresh completion fish | source
  powershell:  tokenrefresh completion powershell | Out-String | Invoke-Expression

'tokenrefresh completion SHELL --help' says how to load it for every new
shell.`
	c.Annotations = map[string]string{noProfile: "true"}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageErr("name a shell: bash, zsh, fish or powershell")
		}
		return usageErr("unknown shell %q: want bash, zsh, fish or powershell", args[0])
	}
	for _, sub := range c.Commands() {
		sub.Annotations = map[string]string{noProfile: "true"}
	}
}

// longFlagArgs rewrites flags as the first CLI, built on the standard flag
// package, accepted them and pflag would misread: a long flag with one dash
// ("-profile work" would be -p with the value "rofile") or a one-letter
// flag with two ("--o FILE"). Only names of real flags of the command are
// rewritten, only before "--"; help and errors show the GNU forms.
func longFlagArgs(root *cobra.Command, args []string) []string {
	out := rewriteFlags(root, args)
	if cmd, _, err := root.Find(out); err == nil && cmd != root {
		out = rewriteFlags(cmd, out)
	}
	return out
}

func rewriteFlags(cmd *cobra.Command, args []string) []string {
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	known := func(name string) bool {
		return cmd.Flags().Lookup(name) != nil || cmd.InheritedFlags().Lookup(name) != nil
	}
	short := func(name string) bool {
		return cmd.Flags().ShorthandLookup(name) != nil || cmd.InheritedFlags().ShorthandLookup(name) != nil
	}
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(a, "=")
		switch {
		case strings.HasPrefix(name, "--") && len(name) == 3 && short(name[2:]):
			out[i] = a[1:]
		case !strings.HasPrefix(name, "--") && strings.HasPrefix(name, "-") && len(name) > 2 && known(name[1:]):
			out[i] = "-" + a
		}
	}
	return out
}
