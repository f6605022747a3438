package main

import (
	"fmt"
	"sync"
	"time"
)

// waitNotice says on stderr what a command waits for, once it has waited
// e.noticeDelay, when stderr is a terminal; a pipe or a log gets nothing.
// stop ends the wait: after it returns the notice is either printed or
// never will be.
func (e *env) waitNotice(msg string) (stop func()) {
	if !e.isTerminal(e.stderr) {
		return func() {}
	}
	var mu sync.Mutex // guards stopped and the write
	stopped := false
	t := time.AfterFunc(e.noticeDelay, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped && !e.prompting.Load() {
			fmt.Fprintln(e.stderr, msg)
		}
	})
	return func() {
		t.Stop()
		mu.Lock()
		stopped = true
		mu.Unlock()
	}
}
