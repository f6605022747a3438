package transport

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
)

// drainLimit bounds how much of a 401 body is read before renewal. A body
// of at most this size that arrives within drainWait is read whole, which
// puts its connection back in the pool for reuse.
const drainLimit = 4 << 10

// drainWait bounds the whole read of a 401 body (all Reads together, not
// each one). A small 401 body normally arrives with the status line, so
// the bound only cuts servers that stall or trickle; without it such a
// server could hold RoundTrip, and the renewal behind it, as long as it
// liked. A body still arriving after drainWait is closed, and with it the
// connection (over HTTP/2, only the stream): the price of one new
// connection for the retry.
const drainWait = 50 * time.Millisecond

// errBodyCut ends a 401 body that did not arrive within drainWait, after
// the bytes that did.
var errBodyCut = errors.New("transport: 401 response body still arriving after " +
	drainWait.String() + "; the read was cut and the body closed")

// buffer reads the body of a 401 that may yet be handed back to the caller
// (renewal fails to produce another token, or the request cannot be
// replayed). It runs before renewal, to free the connection for the token
// endpoint, which may be reached through the same Base and its connection
// limits. It reads at most drainLimit+1 bytes for at most drainWait in all,
// then leaves in resp.Body a body that reads exactly what the server sent,
// or ends in an error; never a truncated body ending in a clean EOF:
//
//   - the whole body arrived: the original is closed (its connection is
//     already back in the pool) and replaced by an in-memory copy;
//   - more than drainLimit bytes arrived in time: the copied prefix, then
//     the unread rest of the original, still open. A server that sends
//     promptly is not stalling; a caller reads or closes the rest;
//   - the body was still arriving after drainWait: the original has been
//     closed, and is replaced by the bytes that arrived followed by
//     errBodyCut. Handing back the original instead would keep the
//     connection busy during renewal, which is what this read is for, and
//     a pending Read cannot be taken back without closing the body anyway.
//     The caller still gets the status and headers (WWW-Authenticate
//     included); its read of the body fails rather than ending early;
//   - reading failed: the bytes that arrived, then that error.
func buffer(resp *http.Response) {
	if resp.Body == nil || resp.Body == http.NoBody {
		return
	}
	orig := resp.Body
	buf, cut, err := readBounded(orig)
	switch {
	case cut:
		resp.Body = cutBody(buf, errBodyCut)
	case err != nil:
		orig.Close()
		resp.Body = cutBody(buf, err)
	case len(buf) <= drainLimit:
		orig.Close()
		resp.Body = io.NopCloser(bytes.NewReader(buf))
	default:
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), orig), orig}
	}
}

// readBounded reads body to EOF or to drainLimit+1 bytes, whichever comes
// first, for at most drainWait. The read runs in the calling goroutine, so
// bytes already received are taken at once however loaded the machine is;
// a timer closes body if the read is not over by then, which ends a pending
// Read (net/http's response bodies allow Close concurrently with Read for
// exactly this). cut reports that the timer fired: body is closed, and buf
// counts as incomplete even when err is nil, since a body may report a
// clean EOF once closed. No goroutine outlives the call.
func readBounded(body io.ReadCloser) (buf []byte, cut bool, err error) {
	closed := make(chan struct{})
	timer := time.AfterFunc(drainWait, func() {
		defer close(closed)
		body.Close()
	})
	buf, err = io.ReadAll(io.LimitReader(body, drainLimit+1))
	if !timer.Stop() {
		<-closed // let Close return before anyone touches body again
		return buf, true, err
	}
	return buf, false, err
}

// cutBody returns a body that reads prefix and then fails with err.
func cutBody(prefix []byte, err error) io.ReadCloser {
	return io.NopCloser(io.MultiReader(bytes.NewReader(prefix), errReader{err}))
}

// errReader fails every Read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// readCloser joins a Reader with the Closer of the body it wraps.
type readCloser struct {
	io.Reader
	io.Closer
}

// discard closes the body of a 401 that will not be returned. buffer has
// already read whatever arrived in time, so nothing is left that is worth
// draining: the rest, if any, is too long or not there yet, and waiting for
// it would let the server hold RoundTrip again.
func discard(resp *http.Response) {
	if resp.Body != nil {
		resp.Body.Close()
	}
}
