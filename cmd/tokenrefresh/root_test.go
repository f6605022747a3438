package main

import (
	"context"
	"fmt"
	"maps"
	"runtime/debug"
	"strings"
	"testing"
)

// TestHelpGolden compares the help of the top level and of every command
// with testdata/help-*.golden (go test -update rewrites them).
func TestHelpGolden(t *testing.T) {
	cases := [][]string{{"--help"}}
	for _, c := range newRootCmd(&newTestEnv(t, "").env, runners{}).Commands() {
		if c.IsAvailableCommand() {
			cases = append(cases, []string{c.Name(), "--help"})
		}
	}
	if len(cases) < 10 {
		t.Fatalf("only %d help texts: %q", len(cases), cases)
	}
	for _, args := range cases {
		name := "help-" + args[0] + ".golden"
		if args[0] == "--help" {
			name = "help-tokenrefresh.golden"
		}
		t.Run(name, func(t *testing.T) {
			te := newTestEnv(t, "")
			if code := te.run(t, args...); code != exitOK {
				t.Fatalf("run(%q) = %d, want 0; stderr: %s", args, code, te.errOut.String())
			}
			if te.errOut.Len() != 0 {
				t.Errorf("--help wrote to stderr: %q", te.errOut.String())
			}
			golden(t, name, te.out.String())
			// The other ways to ask say the same.
			for _, alt := range [][]string{{"help", args[0]}, {args[0], "-h"}} {
				if args[0] == "--help" {
					alt = []string{"help"}
				}
				te2 := newTestEnv(t, "")
				if code := te2.run(t, alt...); code != exitOK || te2.out.String() != te.out.String() {
					t.Errorf("run(%q) = %d with different help:\n%s", alt, code, te2.out.String())
				}
			}
		})
	}
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"get", "--help"}} {
		te := newTestEnv(t, "")
		te.run(t, args...)
		for _, want := range []string{"3", "re-login", "4", ">= 400", "130", "143"} {
			if !strings.Contains(te.out.String(), want) {
				t.Errorf("%q help lacks %q", args, want)
			}
		}
	}
}

// TestHelpIsGNUStyle: help lists every flag with two dashes (and the
// customary short forms), never the standard flag package's one-dash form.
func TestHelpIsGNUStyle(t *testing.T) {
	for _, c := range [][]string{{"--help"}, {"get", "--help"}, {"login", "--help"}, {"status", "--help"}} {
		te := newTestEnv(t, "")
		te.run(t, c...)
		out := te.out.String()
		for _, want := range []string{"--help", "-h,", "--profile", "-p,"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q help lacks %q", c, want)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "-") && !strings.HasPrefix(f[0], "--") && len(f[0]) > 3 {
				t.Errorf("%q help has a one-dash long flag: %q", c, line)
			}
		}
	}
	te := newTestEnv(t, "")
	te.run(t, "get", "--help")
	for _, want := range []string{"-o, --output", "-i, --include", "-q, --quiet", "--timeout"} {
		if !strings.Contains(te.out.String(), want) {
			t.Errorf("get help lacks %q", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the one stderr line
	}{
		{"no command", nil, nil, "Usage:"},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"did you mean", []string{"stauts"}, nil, `unknown command "stauts"; did you mean "status"?`},
		{"did you mean, two", []string{"log"}, nil, `did you mean "login" or "logout"?`},
		{"unknown flag", []string{"get", "--nope", "http://127.0.0.1/"}, nil, "unknown flag: --nope (see 'tokenrefresh get --help')"},
		{"unknown top-level flag", []string{"--nope", "status"}, nil, "unknown flag: --nope"},
		{"unknown shorthand", []string{"get", "-z", "http://127.0.0.1/"}, nil, "unknown shorthand flag: 'z' in -z"},
		{"flag without value", []string{"get", "http://127.0.0.1/", "--parallel"}, nil, "flag needs an argument: --parallel"},
		{"get without URL", []string{"get"}, nil, "at least one URL is required"},
		{"get bad URL", []string{"get", "ftp://x/"}, nil, `invalid URL "ftp://x/"`},
		{"-- ends the flags", []string{"get", "http://127.0.0.1/", "--", "-o", "f"}, nil, `invalid URL "-o"`},
		{"get parallel 0", []string{"get", "--parallel", "0", "http://127.0.0.1/"}, nil, "--parallel must be at least 1"},
		{"get bad timeout", []string{"get", "--timeout", "soon", "http://127.0.0.1/"}, nil, `invalid argument "soon" for "--timeout"`},
		{"get negative timeout", []string{"get", "--timeout=-1s", "http://127.0.0.1/"}, nil, "--timeout must not be negative"},
		{"bad TOKENREFRESH_TIMEOUT", []string{"token"}, map[string]string{"TOKENREFRESH_TIMEOUT": "soon"}, `TOKENREFRESH_TIMEOUT="soon"`},
		{"login both modes", []string{"login", "--token-url", "http://127.0.0.1/t", "--login-url", "http://127.0.0.1/l"}, nil, "exclusive"},
		{"login bad store", []string{"login", "--store", "cloud"}, nil, "--store must be auto, keyring, file, postgres or redis"},
		{"login bad auth style", []string{"login", "--auth-style", "digest"}, nil, "--auth-style must be basic or form"},
		{"login auth style for JSON", []string{"login", "--login-url", "http://127.0.0.1/l", "--auth-style", "form"}, nil, "--auth-style applies to OAuth2"},
		{"login new profile without URL", []string{"login", "--username", "alice"}, nil, "--token-url or --login-url is required"},
		{"login without username", []string{"login", "--login-url", "http://127.0.0.1/l"}, nil, "--username is required"},
		{"login without refresh URL", []string{"login", "--login-url", "http://127.0.0.1/l", "--username", "a"}, nil, "--refresh-url is required"},
		{"login bad flow", []string{"login", "--flow", "magic"}, nil, "--flow must be password, browser, device or client-credentials"},
		{"login flow for JSON", []string{"login", "--login-url", "http://127.0.0.1/l", "--flow", "browser"}, nil, "--login-url speaks the password flow only"},
		{"login issuer and JSON", []string{"login", "--login-url", "http://127.0.0.1/l", "--issuer", "http://127.0.0.1/"}, nil, "exclusive"},
		{"login two stdin secrets", []string{"login", "--password-stdin", "--refresh-token-stdin"}, nil, "both read stdin"},
		{"login refresh token for JSON", []string{"login", "--login-url", "http://127.0.0.1/l", "--refresh-token-stdin"}, nil, "--issuer or --token-url"},
		{"login bad redirect port", []string{"login", "--redirect-port", "70000"}, nil, "--redirect-port must be a port number"},
		{"login bad issuer", []string{"login", "--issuer", "auth.example.com"}, nil, `invalid URL "auth.example.com"`},
		{"login without password", []string{"login", "--login-url", "http://127.0.0.1/l", "--refresh-url", "http://127.0.0.1/r", "--username", "a"}, nil, "no password"},
		{"status extra arg", []string{"status", "x"}, nil, `unexpected argument "x"`},
		{"bad profile name", []string{"status", "--profile", "../x"}, nil, "invalid profile name"},
		{"demo bad ttl", []string{"demo", "--access-ttl", "1s", "--refresh-ttl", "1s"}, nil, "at least twice"},
		{"demo sub-second ttl", []string{"demo", "--access-ttl", "1500ms"}, nil, "whole seconds"},
		{"bad duration", []string{"serve-demo", "--access-ttl", "soon"}, nil, "invalid argument"},
		{"bad user", []string{"serve-demo", "--user", "alice"}, nil, "want name:password"},
		{"completion without shell", []string{"completion"}, nil, "name a shell"},
		{"completion for an unknown shell", []string{"completion", "tcsh"}, nil, `unknown shell "tcsh"`},
		{"help for no command", []string{"help", "frobnicate"}, nil, `no help for "frobnicate"`},
		{"version with an argument", []string{"version", "x"}, nil, `unexpected argument "x"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv(t, "")
			maps.Copy(te.vars, tc.env)
			if code := te.run(t, tc.args...); code != exitUsage {
				t.Errorf("run(%q) = %d, want %d; stderr: %s", tc.args, code, exitUsage, te.errOut.String())
			}
			if !strings.Contains(te.errOut.String(), tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", te.errOut.String(), tc.want)
			}
			if tc.args != nil && strings.Count(te.errOut.String(), "\n") != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", strings.Count(te.errOut.String(), "\n"), te.errOut.String())
			}
			if te.out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", te.out.String())
			}
		})
	}
}

// TestFlagForms parses command lines the way people type them: GNU long
// and short flags, values joined with "=" or not, flags before or after the
// arguments, global flags before the command, and the one-dash long flags the first CLI (on the standard flag package)
// accepted.
func TestFlagForms(t *testing.T) {
	const u1, u2 = "http://127.0.0.1/a", "http://127.0.0.1/b"
	type got struct {
		profile, output string
		include, quiet  bool
		parallel        int
		urls            []string
	}
	cases := []struct {
		args []string
		want got
	}{
		{[]string{"get", u1}, got{profile: "default", parallel: 4, urls: []string{u1}}},
		{[]string{"get", "-o", "f", u1, u2}, got{profile: "default", output: "f", parallel: 4, urls: []string{u1, u2}}},
		{[]string{"get", u1, "-o", "f", u2}, got{profile: "default", output: "f", parallel: 4, urls: []string{u1, u2}}},
		{[]string{"get", u1, u2, "--output=f", "--parallel=8"}, got{profile: "default", output: "f", parallel: 8, urls: []string{u1, u2}}},
		{[]string{"get", "-iqo", "f", u1}, got{profile: "default", output: "f", include: true, quiet: true, parallel: 4, urls: []string{u1}}},
		{[]string{"--profile", "work", "get", u1}, got{profile: "work", parallel: 4, urls: []string{u1}}},
		{[]string{"-p", "work", "get", u1}, got{profile: "work", parallel: 4, urls: []string{u1}}},
		{[]string{"get", u1, "-p", "work"}, got{profile: "work", parallel: 4, urls: []string{u1}}},
		{[]string{"--profile=work", "get", u1}, got{profile: "work", parallel: 4, urls: []string{u1}}},
		// The first CLI's forms.
		{[]string{"-profile", "work", "get", u1}, got{profile: "work", parallel: 4, urls: []string{u1}}},
		{[]string{"get", "-profile=work", "-parallel", "2", u1}, got{profile: "work", parallel: 2, urls: []string{u1}}},
		{[]string{"get", "--o", "f", "--i", u1}, got{profile: "default", output: "f", include: true, parallel: 4, urls: []string{u1}}},
	}
	for _, tc := range cases {
		te := newTestEnv(t, "")
		var g *got
		root := newRootCmd(&te.env, runners{get: func(_ context.Context, o *getOptions) error {
			g = &got{o.profile, o.output, o.include, o.quiet, o.parallel, o.urls}
			return nil
		}})
		if code := te.execute(t.Context(), root, tc.args); code != exitOK || g == nil {
			t.Errorf("%q = exit %d, ran %v; stderr: %s", tc.args, code, g != nil, te.errOut.String())
			continue
		}
		if fmt.Sprint(*g) != fmt.Sprint(tc.want) {
			t.Errorf("%q parsed as %+v, want %+v", tc.args, *g, tc.want)
		}
	}
}

// TestGlobalFlagsBeforeEveryCommand: --profile and --config-dir work
// before the command for each session command.
func TestGlobalFlagsBeforeEveryCommand(t *testing.T) {
	te := newTestEnv(t, "")
	var seen []string
	record := func(g *globalOptions) error {
		seen = append(seen, g.profile+"@"+g.configDir)
		return nil
	}
	root := newRootCmd(&te.env, runners{
		login:  func(_ context.Context, o *loginOptions) error { return record(o.globalOptions) },
		status: func(_ context.Context, o *statusOptions) error { return record(o.globalOptions) },
		token:  func(_ context.Context, o *tokenOptions) error { return record(o.globalOptions) },
		logout: func(_ context.Context, o *logoutOptions) error { return record(o.globalOptions) },
	})
	for _, cmd := range []string{"login", "status", "token", "logout"} {
		if code := te.execute(t.Context(), root, []string{"--profile", "work", "--config-dir", "/cfg", cmd}); code != exitOK {
			t.Fatalf("%s = %d: %s", cmd, code, te.errOut.String())
		}
	}
	if want := "[work@/cfg work@/cfg work@/cfg work@/cfg]"; fmt.Sprint(seen) != want {
		t.Errorf("global flags seen as %v, want %s", seen, want)
	}
}

// TestVersion prints the module version, the VCS revision, its time and
// the modified mark from the build information, the same for "version"
// and "--version".
func TestVersion(t *testing.T) {
	cases := []struct {
		name     string
		settings []debug.BuildSetting
		version  string
		want     string
	}{
		{"released", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-01-02T15:04:05Z"},
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}}, "v1.2.3",
			"tokenrefresh v1.2.3\nrevision 0123abcd (2026-01-02T15:04:05Z)\ngo1.26.0 linux/arm64\n"},
		{"work tree", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"},
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}, "(devel)",
			"tokenrefresh (devel)\nrevision 0123abcd (modified)\ngo1.26.0 linux/amd64\n"},
		{"no VCS", []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}, "",
			"tokenrefresh (devel)\ngo1.26.0 linux/amd64\n"},
	}
	for _, tc := range cases {
		for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
			te := newTestEnv(t, "")
			te.buildInfo = func() (*debug.BuildInfo, bool) {
				return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: tc.version}, Settings: tc.settings}, true
			}
			if code := te.run(t, args...); code != exitOK || te.out.String() != tc.want {
				t.Errorf("%s: %q = %d, %q; want 0, %q", tc.name, args, code, te.out.String(), tc.want)
			}
		}
	}
}

// TestCompletion: a script for each shell, and completions computed from
// the command tree: commands, fixed flag values, saved profile names.
func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_tokenrefresh", "zsh": "#compdef tokenrefresh",
		"fish": "complete -c tokenrefresh", "powershell": "Register-ArgumentCompleter"} {
		te := newTestEnv(t, "")
		if code := te.run(t, "completion", shell); code != exitOK || !strings.Contains(te.out.String(), want) {
			t.Errorf("completion %s = %d; output lacks %q", shell, code, want)
		}
	}
	te := newTestEnv(t, "")
	seedSession(t, te.vars["TOKENREFRESH_CONFIG_DIR"], &profile{Mode: modeJSON, LoginURL: "https://a.example/l",
		RefreshURL: "https://a.example/r", Username: "alice", Store: "file", Backend: "file", Key: "k"}, nil)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "st"}, []string{"status"}},
		{[]string{"__complete", "login", "--store", ""}, []string{"auto", "keyring", "file"}},
		{[]string{"__complete", "login", "--auth-style", ""}, []string{"basic", "form"}},
		{[]string{"__complete", "status", "--profile", ""}, []string{"default"}},
	} {
		te.out.Reset()
		if code := te.run(t, tc.args...); code != exitOK {
			t.Fatalf("%q = %d: %s", tc.args, code, te.errOut.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(te.out.String(), w+"\t") && !strings.Contains(te.out.String(), w+"\n") {
				t.Errorf("%q offers %q, want %q among them", tc.args, te.out.String(), w)
			}
		}
	}
}
