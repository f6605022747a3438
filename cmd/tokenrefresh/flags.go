package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// common holds the flags every session command takes.
type common struct {
	profile   string
	configDir string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.profile, "profile", "default", "profile `name`")
	fs.StringVar(&c.configDir, "config-dir", "", "state `dir`ectory (default $TOKENREFRESH_CONFIG_DIR, else the user config directory + /tokenrefresh)")
}

// newFlagSet returns a flag set that never prints by itself: parseFlags
// decides what goes where.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("tokenrefresh "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args into fs, allowing flags after positional
// arguments ("get URL -o file"); "--" ends flag parsing. On --help it
// prints usage and the flag list to stdout and returns flag.ErrHelp.
func parseFlags(e *env, fs *flag.FlagSet, usage string, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(e.stdout, helpText(fs, usage))
			}
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Re-parse only the positional arguments so fs.Args() returns them.
	return fs.Parse(append([]string{"--"}, positional...))
}

// helpText renders a command's usage followed by its flags.
func helpText(fs *flag.FlagSet, usage string) string {
	var b strings.Builder
	b.WriteString(usage)
	b.WriteString("\nFlags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}
