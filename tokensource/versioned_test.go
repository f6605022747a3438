package tokensource

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

// vBacking is a record store shared by several processes, as a fleet store
// (PostgreSQL, Redis) is: every record has a generation, writes are
// compare-and-set, a delete leaves a tombstone. It has no lock: every test
// here is about what happens when the lock did not hold (lapsed under a
// paused holder, an engine restart).
type vBacking struct {
	mu   sync.Mutex
	recs map[string]vRecord
}

type vRecord struct {
	gen   int64
	value []byte // nil: tombstone
}

func newVBacking() *vBacking { return &vBacking{recs: map[string]vRecord{}} }

// vStore is one process's handle on a vBacking. beforeSwap, when set, runs
// once before the handle's next CompareAndSwap: the moment another process
// gets in between.
type vStore struct {
	b          *vBacking
	reads      atomic.Int64
	mu         sync.Mutex
	beforeSwap func()
}

func (b *vBacking) handle() *vStore { return &vStore{b: b} }

func (v *vStore) Get(ctx context.Context, key string) ([]byte, error) {
	b, _, err := v.GetVersioned(ctx, key)
	return b, err
}

func (v *vStore) GetVersioned(ctx context.Context, key string) ([]byte, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	v.reads.Add(1)
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	r := v.b.recs[key]
	if r.value == nil {
		return nil, r.gen, storage.ErrNotFound
	}
	return append([]byte(nil), r.value...), r.gen, nil
}

func (v *vStore) CompareAndSwap(ctx context.Context, key string, gen int64, value []byte) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	v.mu.Lock()
	hook := v.beforeSwap
	v.beforeSwap = nil
	v.mu.Unlock()
	if hook != nil {
		hook()
	}
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	r := v.b.recs[key]
	if r.gen != gen {
		return 0, storage.ErrConflict
	}
	r = vRecord{gen: gen + 1, value: append([]byte{}, value...)}
	v.b.recs[key] = r
	return r.gen, nil
}

func (v *vStore) Put(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	v.b.recs[key] = vRecord{gen: v.b.recs[key].gen + 1, value: append([]byte{}, value...)}
	return nil
}

func (v *vStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	if r, ok := v.b.recs[key]; ok && r.value != nil {
		v.b.recs[key] = vRecord{gen: r.gen + 1}
	}
	return nil
}

func (v *vStore) setBeforeSwap(f func()) {
	v.mu.Lock()
	v.beforeSwap = f
	v.mu.Unlock()
}

// record returns the stored token and generation under key.
func (b *vBacking) record(t *testing.T, key string) (*Token, int64) {
	t.Helper()
	b.mu.Lock()
	r := b.recs[key]
	b.mu.Unlock()
	if r.value == nil {
		return nil, r.gen
	}
	tok, err := DecodeToken(r.value)
	if err != nil {
		t.Fatalf("stored record: %v", err)
	}
	return tok, r.gen
}

// The fake plays by the storage.Versioned rules the real fleet stores are
// held to.
func TestVersionedFakeConforms(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newVBacking().handle() })
}

// vFleet is two processes sharing one login through a versioned store.
type vFleet struct {
	clk   interface{ Advance(time.Duration) }
	g     *stGrant
	b     *vBacking
	a, bb *Source
	ha    *vStore
	hb    *vStore
}

func newVFleet(t *testing.T, wait time.Duration) *vFleet {
	t.Helper()
	clk := newSTClock()
	g := newSTGrant(clk.Now)
	b := newVBacking()
	f := &vFleet{clk: clk, g: g, b: b, ha: b.handle(), hb: b.handle()}
	f.a = &Source{Grant: g, Store: f.ha, Key: "fleet", Now: clk.Now, InFlightWait: wait}
	f.bb = &Source{Grant: g, Store: f.hb, Key: "fleet", Now: clk.Now, InFlightWait: wait}
	t.Cleanup(func() {
		for _, s := range []*Source{f.a, f.bb} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = s.Close(ctx)
			cancel()
		}
	})
	// Process A logs in; the session is stored at generation 1.
	if _, err := f.a.Token(testCtx(t)); err != nil {
		t.Fatalf("first login: %v", err)
	}
	f.clk.Advance(16 * time.Minute) // the access token expired
	return f
}

// bRefreshes returns a func that has process B refresh (its token goes to
// *tok): the other process acting at the worst moment for A.
func (f *vFleet) bRefreshes(t *testing.T, ctx context.Context, tok **Token) func() {
	return func() {
		var err error
		if *tok, err = f.bb.Token(ctx); err != nil {
			t.Errorf("B's refresh: %v", err)
		}
	}
}

// wantAdoptedOneRefresh checks that the server saw one login and one
// refresh, no refresh token twice, and that A holds B's token.
func (f *vFleet) wantAdoptedOneRefresh(t *testing.T, aTok, bTok *Token) {
	t.Helper()
	logins, refreshes, reuses := f.g.counts()
	if logins != 1 || refreshes != 1 || reuses != 0 || f.g.maxSent() != 1 {
		t.Errorf("server saw %d logins, %d refreshes, %d reuses, a refresh token sent up to %d times; want 1, 1, 0, 1",
			logins, refreshes, reuses, f.g.maxSent())
	}
	if bTok == nil || aTok.AccessToken != bTok.AccessToken {
		t.Errorf("A did not adopt B's token")
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type tokErr struct {
	tok *Token
	err error
}

func tokenAsync(ctx context.Context, s *Source) <-chan tokErr {
	ch := make(chan tokErr, 1)
	go func() {
		tok, err := s.Token(ctx)
		ch <- tokErr{tok, err}
	}()
	return ch
}

// A process whose lock lapsed (here: there is no lock at all) read the
// record before another one refreshed. Its intent is a compare-and-set on
// the generation it read, so it finds the store moved on, sends nothing
// and adopts the other's token: one refresh fleet-wide, no replay.
func TestVersionedIntentFencesTheSend(t *testing.T) {
	f := newVFleet(t, time.Second)
	ctx := testCtx(t)
	var bTok *Token
	f.ha.setBeforeSwap(f.bRefreshes(t, ctx, &bTok))
	aTok, err := f.a.Token(ctx)
	if err != nil {
		t.Fatalf("A's refresh: %v", err)
	}
	f.wantAdoptedOneRefresh(t, aTok, bTok)
	stored, gen := f.b.record(t, "fleet")
	if stored == nil || stored.AccessToken != aTok.AccessToken || gen != 3 {
		t.Errorf("store holds generation %d, want B's token at generation 3 (login, intent, answer)", gen)
	}
}

// A process paused after sending a refresh (its lock lapsed) comes back
// while another waits for it: the waiter adopts its answer instead of
// logging in, and the server sees one refresh.
func TestVersionedWaiterAdoptsTheAnswerInFlight(t *testing.T) {
	f := newVFleet(t, 30*time.Second)
	ctx := testCtx(t)
	gate, started := f.g.block()
	aCh := tokenAsync(ctx, f.a)
	<-started // A wrote its intent and sent the refresh token
	before := f.hb.reads.Load()
	bCh := tokenAsync(ctx, f.bb)
	// B read the record and polls it: it waits for A.
	for i := 0; f.hb.reads.Load() < before+3; i++ {
		if i > 3000 {
			t.Fatal("B never polled the record")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(gate)
	a, b := <-aCh, <-bCh
	if a.err != nil || b.err != nil {
		t.Fatalf("A: %v, B: %v", a.err, b.err)
	}
	if a.tok.AccessToken != b.tok.AccessToken {
		t.Errorf("B did not adopt A's answer")
	}
	logins, refreshes, reuses := f.g.counts()
	if logins != 1 || refreshes != 1 || reuses != 0 {
		t.Errorf("server saw %d logins, %d refreshes, %d reuses; want 1, 1, 0", logins, refreshes, reuses)
	}
}

// A process paused after sending for longer than InFlightWait: the other
// logs in (the refresh token may be spent), and the late answer does not
// overwrite the newer session: its compare-and-set fails and it adopts the
// login. No refresh token reaches the server twice.
func TestVersionedLateAnswerAdoptsTheNewerSession(t *testing.T) {
	f := newVFleet(t, 50*time.Millisecond)
	ctx := testCtx(t)
	gate, started := f.g.block()
	aCh := tokenAsync(ctx, f.a)
	<-started
	b, err := f.bb.Token(ctx)
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	_, genB := f.b.record(t, "fleet")
	close(gate)
	a := <-aCh
	if a.err != nil {
		t.Fatalf("A: %v", a.err)
	}
	if a.tok.AccessToken != b.AccessToken {
		t.Errorf("A kept its late answer instead of adopting B's newer session")
	}
	stored, gen := f.b.record(t, "fleet")
	if stored == nil || stored.AccessToken != b.AccessToken || gen != genB {
		t.Errorf("the late answer overwrote the store: generation %d, want B's session at %d", gen, genB)
	}
	logins, refreshes, reuses := f.g.counts()
	if logins != 2 || refreshes != 1 || reuses != 0 || f.g.maxSent() != 1 {
		t.Errorf("server saw %d logins, %d refreshes, %d reuses, sent up to %d times; want 2, 1, 0, 1",
			logins, refreshes, reuses, f.g.maxSent())
	}
}

// A logout elsewhere leaves a tombstone; a refresh that was in flight then
// writes its answer over it (as a Put would recreate a deleted file), at
// the tombstone's generation: the generation never goes back.
func TestVersionedSaveOverATombstone(t *testing.T) {
	f := newVFleet(t, time.Second)
	ctx := testCtx(t)
	gate, started := f.g.block()
	aCh := tokenAsync(ctx, f.a)
	<-started
	if err := f.hb.Delete(ctx, "fleet"); err != nil {
		t.Fatal(err)
	}
	_, tomb := f.b.record(t, "fleet")
	close(gate)
	a := <-aCh
	if a.err != nil {
		t.Fatalf("A: %v", a.err)
	}
	stored, gen := f.b.record(t, "fleet")
	if stored == nil || stored.AccessToken != a.tok.AccessToken || gen != tomb+1 {
		t.Errorf("store: generation %d (tombstone %d), want A's answer at %d", gen, tomb, tomb+1)
	}
}

// A compare-and-set that fails for ever (another process keeps moving the
// record) ends in a bounded number of passes, never a loop.
func TestVersionedEndlessConflictsAreBounded(t *testing.T) {
	f := newVFleet(t, time.Second)
	ctx := testCtx(t)
	var moves atomic.Int64
	var arm func()
	arm = func() {
		f.ha.setBeforeSwap(func() {
			moves.Add(1)
			f.b.mu.Lock()
			r := f.b.recs["fleet"]
			r.gen++
			f.b.recs["fleet"] = r
			f.b.mu.Unlock()
			arm()
		})
	}
	arm()
	_, err := f.a.Token(ctx)
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Token = %v, want an error wrapping storage.ErrConflict", err)
	}
	if n := moves.Load(); n > maxMoves+1 {
		t.Errorf("%d compare-and-set attempts, want at most %d", n, maxMoves+1)
	}
	if logins, refreshes, _ := f.g.counts(); refreshes != 0 || logins != 1 {
		t.Errorf("%d refreshes sent without a fenced intent and %d logins; want 0 and 1 (an intent that was never written is no reason to log in)", refreshes, logins)
	}
}

// A corrupt record in a fleet store (bytes no version of this package
// wrote) is replaced by a login, with a compare-and-set on the generation
// it was read at: no error, no crash, and the generation moves on.
func TestVersionedCorruptRecordIsReplaced(t *testing.T) {
	clk := newSTClock()
	g := newSTGrant(clk.Now)
	b := newVBacking()
	h := b.handle()
	ctx := testCtx(t)
	for _, junk := range [][]byte{[]byte("<html>502 Bad Gateway</html>"), {0xff, 0x00, 0x13}, []byte(`{"version":1}`)} {
		if err := h.Put(ctx, "fleet", junk); err != nil {
			t.Fatal(err)
		}
		b.mu.Lock()
		before := b.recs["fleet"].gen
		b.mu.Unlock()
		src := &Source{Grant: g, Store: h, Key: "fleet", Now: clk.Now}
		tok, err := src.Token(ctx)
		if err != nil {
			t.Fatalf("Token over a corrupt record %q: %v", junk, err)
		}
		stored, gen := b.record(t, "fleet")
		if stored == nil || stored.AccessToken != tok.AccessToken || gen != before+1 {
			t.Errorf("after a corrupt record at generation %d: generation %d, want the new login at %d", before, gen, before+1)
		}
		_ = src.Close(ctx)
	}
}

// vFailing makes a vStore's engine unreachable: every call fails, as a
// PostgreSQL that is restarting does ("the database system is starting
// up"), until the test brings it back.
type vFailing struct {
	*vStore
	down  atomic.Bool
	calls atomic.Int64
	// landThenFail makes the next CompareAndSwap land, then fail (the
	// answer lost with the connection).
	landThenFail atomic.Bool
	// failRead, when set, makes the next GetVersioned fail after running
	// it: another process acts while this one cannot read.
	failRead atomic.Pointer[func()]
}

var errEngineDown = errors.New("connect: the database system is starting up")

func (v *vFailing) fail() error {
	v.calls.Add(1)
	if v.down.Load() {
		return errEngineDown
	}
	return nil
}

func (v *vFailing) Get(ctx context.Context, key string) ([]byte, error) {
	if err := v.fail(); err != nil {
		return nil, err
	}
	return v.vStore.Get(ctx, key)
}

func (v *vFailing) GetVersioned(ctx context.Context, key string) ([]byte, int64, error) {
	if err := v.fail(); err != nil {
		return nil, 0, err
	}
	if f := v.failRead.Swap(nil); f != nil {
		(*f)()
		return nil, 0, errEngineDown
	}
	return v.vStore.GetVersioned(ctx, key)
}

func (v *vFailing) CompareAndSwap(ctx context.Context, key string, gen int64, value []byte) (int64, error) {
	if err := v.fail(); err != nil {
		return 0, err
	}
	next, err := v.vStore.CompareAndSwap(ctx, key, gen, value)
	if err == nil && v.landThenFail.CompareAndSwap(true, false) {
		return 0, errEngineDown
	}
	return next, err
}

func (v *vFailing) Put(ctx context.Context, key string, value []byte) error {
	if err := v.fail(); err != nil {
		return err
	}
	return v.vStore.Put(ctx, key, value)
}

func (v *vFailing) Lock(ctx context.Context, key string) (func() error, error) {
	if err := v.fail(); err != nil {
		return nil, err
	}
	return func() error { return nil }, nil
}

// An engine restart while the token is expired: the request waits for the
// store to come back (one flight retrying, not every request failing) and
// then refreshes once, with no login.
func TestVersionedStoreOutageIsWaitedOut(t *testing.T) {
	clk := newSTClock()
	g := newSTGrant(clk.Now)
	h := &vFailing{vStore: newVBacking().handle()}
	src := &Source{Grant: g, Store: h, Key: "fleet", Now: clk.Now}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	ctx := testCtx(t)
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(16 * time.Minute)
	h.down.Store(true)
	before := h.calls.Load()
	ch := tokenAsync(ctx, src)
	for i := 0; h.calls.Load() < before+4; i++ { // a few attempts, with pauses
		if i > 3000 {
			t.Fatal("the flight stopped trying")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// More callers wait on the same flight.
	more := tokenAsync(ctx, src)
	h.down.Store(false)
	for _, c := range []<-chan tokErr{ch, more} {
		if r := <-c; r.err != nil {
			t.Fatalf("Token across the outage: %v", r.err)
		}
	}
	if logins, refreshes, _ := g.counts(); logins != 1 || refreshes != 1 {
		t.Errorf("server saw %d logins, %d refreshes; want 1, 1", logins, refreshes)
	}
}

// The intent's write landed but its answer was lost: the refresh token
// was not sent, and this process knows it, so the next attempt refreshes
// instead of logging in.
func TestVersionedUnsentIntentIsNotASpentToken(t *testing.T) {
	clk := newSTClock()
	g := newSTGrant(clk.Now)
	b := newVBacking()
	h := &vFailing{vStore: b.handle()}
	src := &Source{Grant: g, Store: h, Key: "fleet", Now: clk.Now}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	ctx := testCtx(t)
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(16 * time.Minute)
	h.landThenFail.Store(true)
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if logins, refreshes, reuses := g.counts(); logins != 1 || refreshes != 1 || reuses != 0 {
		t.Errorf("server saw %d logins, %d refreshes, %d reuses; want 1, 1, 0", logins, refreshes, reuses)
	}
	if stored, _ := b.record(t, "fleet"); stored == nil || stored.AccessToken != tok.AccessToken {
		t.Errorf("the refreshed token is not the stored one")
	}
}

func TestStoreRetryDelayBounds(t *testing.T) {
	for attempt := range 12 {
		for _, r := range []float64{0, 0.5, 0.999} {
			d := storeRetryDelay(attempt, r)
			if d < 40*time.Millisecond || d > 1200*time.Millisecond {
				t.Errorf("storeRetryDelay(%d, %v) = %v, want within [40ms, 1.2s]", attempt, r, d)
			}
		}
	}
}

// A read of the fleet store fails while another process rotates the
// refresh token. The flight must not go on with the token in memory (its
// refresh token is spent by then): it tries the read again and adopts the
// other's token. Before, it sent the spent refresh token after an
// unconditional write: a replay, and the family revoked.
func TestVersionedFailedReadNeverActsOnMemory(t *testing.T) {
	f := newVFleet(t, time.Second)
	ha := &vFailing{vStore: f.ha}
	f.a.Store = ha
	ctx := testCtx(t)
	var bTok *Token
	rotate := f.bRefreshes(t, ctx, &bTok)
	ha.failRead.Store(&rotate)
	aTok, err := f.a.Token(ctx)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	f.wantAdoptedOneRefresh(t, aTok, bTok)
}
