package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// helpWidth is where flag descriptions wrap.
const helpWidth = 80

// helpText renders a command's help: its usage, description, subcommands
// and flags (GNU style, as pflag prints them), and for the top level the
// exit codes and environment. Help goes to stdout; a usage error prints
// one line to stderr instead.
func helpText(c *cobra.Command) string {
	var b strings.Builder
	top := !c.HasParent()
	if top {
		b.WriteString(c.Long + "\n\n")
	}
	b.WriteString("Usage:\n")
	for _, l := range usage(c) {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	if !top && c.Long != "" {
		b.WriteString("\n" + strings.TrimRight(c.Long, "\n") + "\n")
	}
	if c.HasAvailableSubCommands() {
		writeCommands(&b, c)
	}
	if fl := c.LocalFlags(); fl.HasAvailableFlags() {
		b.WriteString("\nFlags:\n" + fl.FlagUsagesWrapped(helpWidth))
	}
	if c.Annotations[noProfile] == "" && c.HasAvailableInheritedFlags() {
		b.WriteString("\nGlobal flags (before or after the command):\n" + c.InheritedFlags().FlagUsagesWrapped(helpWidth))
	}
	if top {
		b.WriteString("\nRun 'tokenrefresh <command> --help' for a command's flags.\n" + sharedHelp)
	}
	return b.String()
}

// usage returns a command's usage lines.
func usage(c *cobra.Command) []string {
	if lines, ok := c.Annotations[usageLines]; ok {
		return strings.Split(strings.TrimSpace(lines), "\n")
	}
	return []string{c.UseLine()}
}

// writeCommands lists c's subcommands, by group in the order the groups
// were added, then those in no group.
func writeCommands(b *strings.Builder, c *cobra.Command) {
	pad := 0
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() || sub.Name() == "help" {
			pad = max(pad, len(sub.Name()))
		}
	}
	list := func(title, group string) {
		var lines []string
		for _, sub := range c.Commands() {
			if sub.GroupID == group && (sub.IsAvailableCommand() || sub.Name() == "help") {
				lines = append(lines, fmt.Sprintf("  %-*s  %s\n", pad, sub.Name(), sub.Short))
			}
		}
		if len(lines) > 0 {
			b.WriteString("\n" + title + "\n" + strings.Join(lines, ""))
		}
	}
	for _, g := range c.Groups() {
		list(g.Title, g.ID)
	}
	list("Commands:", "")
}

// sharedHelp documents exit codes and environment for the top-level help.
const sharedHelp = `
Exit codes:
  0    success
  1    error
  2    usage error (bad flags or arguments)
  3    re-login needed and no password available non-interactively
       (set TOKENREFRESH_PASSWORD, or run 'tokenrefresh login')
  4    HTTP error: a fetched URL answered with a status >= 400
  130  interrupted by Ctrl-C (SIGINT)
  143  stopped by SIGTERM

Environment:
  TOKENREFRESH_CONFIG_DIR    state directory (default: the user config
                             directory + /tokenrefresh)
  TOKENREFRESH_PASSWORD      password for login and automatic re-login
  TOKENREFRESH_CLIENT_SECRET OAuth2 client secret
  TOKENREFRESH_TIMEOUT       default --timeout of get and token (a Go
                             duration such as 30s; 0 or unset: none)
  TOKENREFRESH_DEBUG         if set, log token events (never tokens) to stderr
  PGHOST, PGUSER, PGPASSWORD, PGDATABASE…, REDIS_URL, REDISCLI_AUTH
                             where the postgres or redis store lives, when
                             neither --store-url nor the profile says
  TOKENREFRESH_REDIS_ALLOW_UNSAFE
                             1: accept a Redis that can lose a write
`
