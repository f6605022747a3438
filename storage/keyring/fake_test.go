package keyring

import (
	"errors"
	"sync"

	gokeyring "github.com/zalando/go-keyring"
)

// fakeKeyring is an in-process stand-in for go-keyring with the same error
// behaviour: ErrNotFound, ErrSetDataTooBig above maxSecret, an injected
// failure, or a hang until released.
type fakeKeyring struct {
	// mu guards every field below.
	mu        sync.Mutex
	items     map[[2]string]string
	maxSecret int   // 0 = no limit
	failSetAt int   // fail the failSetAt-th Set from now with failErr; 0 = never
	failErr   error // returned by a failing call
	hang      chan struct{}
	sets      int
}

var _ backend = (*fakeKeyring)(nil)

func newFake() *fakeKeyring { return &fakeKeyring{items: make(map[[2]string]string)} }

// wait blocks while the fake hangs; it must be called without mu.
func (f *fakeKeyring) wait() {
	f.mu.Lock()
	h := f.hang
	f.mu.Unlock()
	if h != nil {
		<-h
	}
}

func (f *fakeKeyring) Set(service, user, secret string) error {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets++
	if f.failSetAt != 0 && f.sets == f.failSetAt {
		return f.failErr
	}
	if f.maxSecret > 0 && len(secret) > f.maxSecret {
		return gokeyring.ErrSetDataTooBig
	}
	f.items[[2]string{service, user}] = secret
	return nil
}

func (f *fakeKeyring) Get(service, user string) (string, error) {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil && f.failSetAt == 0 {
		return "", f.failErr
	}
	v, ok := f.items[[2]string{service, user}]
	if !ok {
		return "", gokeyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeKeyring) Delete(service, user string) error {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	k := [2]string{service, user}
	if _, ok := f.items[k]; !ok {
		return gokeyring.ErrNotFound
	}
	delete(f.items, k)
	return nil
}

// count returns how many items the fake holds for service, and the longest.
func (f *fakeKeyring) count(service string) (n, longest int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.items {
		if k[0] == service {
			n++
			longest = max(longest, len(v))
		}
	}
	return n, longest
}

func (f *fakeKeyring) secret(service, user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.items[[2]string{service, user}]
}

// users lists the user names stored for service.
func (f *fakeKeyring) users(service string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var us []string
	for k := range f.items {
		if k[0] == service {
			us = append(us, k[1])
		}
	}
	return us
}

var errFakeBus = errors.New("fake: dbus: connection refused")
