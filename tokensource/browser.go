package tokensource

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// browserWait is how long OpenSystemBrowser waits for the command to
// exit: xdg-open, open and rundll32 hand the URL over and exit at once,
// while a browser named by BROWSER may run until the user closes it.
const browserWait = 5 * time.Second

// OpenSystemBrowser opens url with the operating system's usual command.
// It is what [AuthCodeGrant] uses when its OpenBrowser field is nil.
//
// When the BROWSER environment variable is set, its value is the command,
// as xdg-open and Python's webbrowser read it: a list of commands
// separated by the path list separator (":" on Unix), each split into
// words at spaces; a word "%s" is replaced by url, otherwise url is added
// as the command's one argument. The first command that runs and does not
// fail within a few seconds wins. Without BROWSER: "open" on macOS,
// "rundll32 url.dll,FileProtocolHandler" on Windows, and xdg-open
// elsewhere (Linux and the BSDs).
//
// A command still running after a few seconds (a browser started by
// BROWSER) counts as success and is left running; OpenSystemBrowser
// returns then, or as soon as ctx is done, without stopping it. Its
// output is discarded; a failure's error quotes the start of its stderr.
func OpenSystemBrowser(ctx context.Context, url string) error {
	cmds := browserCommands(url)
	var errs []error
	for _, argv := range cmds {
		err := runBrowser(ctx, argv)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errorf("opening a browser: %w", errors.Join(errs...))
}

// BrowserAvailable reports whether [OpenSystemBrowser] has a command to
// try: BROWSER is set, the system is macOS or Windows, or xdg-open is
// installed and a graphical session is running (DISPLAY or
// WAYLAND_DISPLAY is set). A program can use it to choose between a
// browser login and a device login; it does not prove that a browser will
// open.
func BrowserAvailable() bool {
	if os.Getenv("BROWSER") != "" {
		return true
	}
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return false
	}
	_, err := exec.LookPath("xdg-open")
	return err == nil
}

// browserCommands returns the commands to try for url, in order.
func browserCommands(url string) [][]string {
	if env := os.Getenv("BROWSER"); env != "" {
		var cmds [][]string
		for _, entry := range filepath.SplitList(env) {
			words := strings.Fields(entry)
			if len(words) == 0 {
				continue
			}
			substituted := false
			for i, w := range words {
				if w == "%s" {
					words[i], substituted = url, true
				}
			}
			if !substituted {
				words = append(words, url)
			}
			cmds = append(cmds, words)
		}
		if len(cmds) > 0 {
			return cmds
		}
	}
	switch runtime.GOOS {
	case "darwin":
		return [][]string{{"open", url}}
	case "windows":
		return [][]string{{"rundll32", "url.dll,FileProtocolHandler", url}}
	}
	return [][]string{{"xdg-open", url}}
}

// runBrowser starts argv and waits up to browserWait for it to exit. It
// never kills the command: a browser the user is logging in with must
// stay open.
func runBrowser(ctx context.Context, argv []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 512}
	if err := cmd.Start(); err != nil {
		return errorf("%s: %w", filepath.Base(argv[0]), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }() // reaps the command whenever it exits
	timer := time.NewTimer(browserWait)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			msg := serverText(strings.SplitN(stderr.String(), "\n", 2)[0], 200)
			if msg != "" {
				return errorf("%s: %w: %s", filepath.Base(argv[0]), err, msg)
			}
			return errorf("%s: %w", filepath.Base(argv[0]), err)
		}
		return nil
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return errorf("%s: %w", filepath.Base(argv[0]), ctx.Err())
	}
}

// limitedWriter keeps the first n bytes written to it and discards the
// rest, never failing the writer.
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
