package tokensource

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// bScript writes an executable shell script into dir and returns its
// path.
func bScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenSystemBrowserHonoursBROWSER: the BROWSER command gets the URL as
// its one argument, or where it says %s; a list is tried in order until
// one command works; a failure quotes the command's stderr.
func TestOpenSystemBrowserHonoursBROWSER(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	record := bScript(t, dir, "record", `printf '%s\n' "$#" "$@" > "`+out+`"`)
	fail := bScript(t, dir, "fail", `echo "no display here" >&2; exit 3`)
	const u = "https://auth.example.com/authorize?client_id=cli&state=x y"
	tests := []struct {
		name, browser string
		want          string // the recorded argument count and arguments
	}{
		{"one command", record, "1\n" + u + "\n"},
		{"words and %s", record + " --new-window %s", "2\n--new-window\n" + u + "\n"},
		{"list, first missing", filepath.Join(dir, "missing") + string(os.PathListSeparator) + record, "1\n" + u + "\n"},
		{"list, first failing", fail + string(os.PathListSeparator) + record, "1\n" + u + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(out)
			t.Setenv("BROWSER", tt.browser)
			if err := OpenSystemBrowser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil || string(got) != tt.want {
				t.Errorf("the command got %q (%v), want %q", got, err, tt.want)
			}
			if !BrowserAvailable() {
				t.Error("BrowserAvailable() = false with BROWSER set")
			}
		})
	}
	t.Setenv("BROWSER", fail)
	err := OpenSystemBrowser(t.Context(), u)
	if err == nil || !strings.Contains(err.Error(), "no display here") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("OpenSystemBrowser with a failing command = %v", err)
	}
	checkPrefixOnce(t, err)
}

// TestBrowserCommandsDefault: without BROWSER, the OS's usual command.
func TestBrowserCommandsDefault(t *testing.T) {
	t.Setenv("BROWSER", "")
	want := map[string]string{"darwin": "open", "windows": "rundll32"}[runtime.GOOS]
	if want == "" {
		want = "xdg-open"
	}
	cmds := browserCommands("https://x/")
	if len(cmds) != 1 || cmds[0][0] != want || cmds[0][len(cmds[0])-1] != "https://x/" {
		t.Errorf("browserCommands() = %q, want %s with the URL last", cmds, want)
	}
}
