package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version and the source revision it was built from",
		Long: `Prints the module version, the VCS revision, its time and whether the
work tree had local changes (when the build recorded them), and the Go
version. 'tokenrefresh --version' prints the same.`,
		GroupID:     groupOther,
		Annotations: map[string]string{noProfile: "true"},
		Args:        noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(e.stdout, versionText(e.buildInfo))
			return err
		},
	}
}

// versionText describes the build from its build information:
//
//	tokenrefresh v1.2.3
//	revision 0123abcd… (2026-01-02T15:04:05Z, modified)
//	go1.26.0 linux/amd64
//
// The module version is "(devel)" for a build from a work tree; the
// revision line appears only when the build stamped VCS information.
func versionText(read func() (*debug.BuildInfo, bool)) string {
	var b strings.Builder
	bi, ok := read()
	if !ok {
		return fmt.Sprintf("tokenrefresh (unknown version)\n%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	fmt.Fprintf(&b, "tokenrefresh %s\n", version)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		var details []string
		if t := settings["vcs.time"]; t != "" {
			details = append(details, t)
		}
		if settings["vcs.modified"] == "true" {
			details = append(details, "modified")
		}
		fmt.Fprintf(&b, "revision %s", rev)
		if len(details) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(details, ", "))
		}
		b.WriteString("\n")
	}
	goos, goarch := settings["GOOS"], settings["GOARCH"]
	if goos == "" || goarch == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	fmt.Fprintf(&b, "%s %s/%s\n", bi.GoVersion, goos, goarch)
	return b.String()
}
