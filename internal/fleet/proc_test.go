package fleet

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// window holds the rotation markers (see out) after which a kill may cost
// the fleet a login: the refresh token may be spent (intent written, or
// request out) or a new token may be unsaved (answered, save started or
// failed). A marker is written before its step, so a process killed after
// "I" may have died before writing the intent: counting it is the
// conservative side. x (the intent write failed: nothing is sent), D
// (saved), A (adopted another's newer token) and X (the flight failed:
// what it left in the store costs the same with or without a kill) end
// the window.
var window = map[string]bool{"I": true, "i": true, "B": true, "F": true, "l": true, "L": true, "S": true, "d": true}

// proc is one child process and what it reported on stdout.
type proc struct {
	id  int
	cmd *exec.Cmd
	// lines carries the lines that are not requests or markers (ready,
	// done, locked, waiting), dropped when nobody reads them.
	lines  chan string
	exited chan struct{} // closed once the process was waited for
	stderr tail

	// mu guards the fields below.
	mu           sync.Mutex
	ready, done  bool
	ok, failed   int
	firstFailure string
	lastFailure  time.Time // when the harness read the last failed request
	marker       string    // the last rotation marker
	history      string    // the last rotation markers, oldest first
	killed       bool      // the harness SIGKILLed it
	stopped      bool      // the harness SIGSTOPped it and has not continued it yet
	waitErr      error
}

// startProc starts the test binary as a child in mode with env added, and
// registers a cleanup that kills and waits for it.
func startProc(t *testing.T, id int, mode string, env []string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envMode+"="+mode)
	cmd.Env = append(cmd.Env, env...)
	// Under -race a binary exiting 0 first sleeps GORACE's
	// atexit_sleep_ms, 1 s by default; a child need not.
	cmd.Env = append(cmd.Env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	// If the harness dies without its cleanups, the child dies too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	p := &proc{id: id, cmd: cmd, lines: make(chan string, 16), exited: make(chan struct{})}
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			t.Errorf("child %d (pid %d) not reaped 15 s after SIGKILL", id, cmd.Process.Pid)
		}
	})
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.parse(sc.Text())
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
	}()
	return p
}

// parse records one line of the child's stdout.
func (p *proc) parse(l string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case l == "r ok":
		p.ok++
		return
	case strings.HasPrefix(l, "r fail"):
		p.failed++
		p.lastFailure = time.Now()
		if p.firstFailure == "" {
			p.firstFailure = strings.TrimSpace(strings.TrimPrefix(l, "r fail"))
		}
		return
	case strings.HasPrefix(l, "m "):
		p.marker = strings.TrimPrefix(l, "m ")
		p.history += p.marker
		if len(p.history) > 16 {
			p.history = p.history[len(p.history)-16:]
		}
		return
	case l == "ready":
		p.ready = true
	case l == "done":
		p.done = true
	}
	select {
	case p.lines <- l:
	default:
	}
}

func (p *proc) isReady() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready
}

func (p *proc) isKilled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// signal sends sig to the child.
func (p *proc) signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// kill SIGKILLs the child, waits until its last line was read and returns
// the last rotation marker it wrote and the ones before.
func (p *proc) kill(t *testing.T) (last, history string) {
	t.Helper()
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	_ = p.signal(syscall.SIGKILL)
	if !p.wait(15 * time.Second) {
		t.Errorf("child %d did not exit 15 s after SIGKILL", p.id)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.marker, p.history
}

// wait waits up to d for the child to exit.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// await waits up to d for a line starting with prefix.
func (p *proc) await(prefix string, d time.Duration) (string, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-p.exited:
			return "", errors.New("exited: " + p.stderr.String())
		case <-timer.C:
			return "", errors.New("timed out waiting for " + prefix)
		}
	}
}

// exitedCleanly reports whether the child exited with status 0.
func (p *proc) exitedCleanly() bool {
	select {
	case <-p.exited:
	default:
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr == nil
}

// tail keeps the last 4 KiB written to it: a child's stderr.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if len(t.b) > 4096 {
		t.b = append([]byte(nil), t.b[len(t.b)-4096:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
