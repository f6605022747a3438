// Package tokenendpoint is the HTTP client behind tokensource's grants and
// discovery: it sends one request, re-sending it only when it provably did
// not reach the server or the server answered 429 or 503, follows no
// redirect, reads the answer through a size cap, and turns the answer into
// token fields or a [Failure].
//
// A Failure is plain data with every secret the request carried removed.
// This package cannot import tokensource (which imports it), so it defines
// no error for callers to match: tokensource maps a Failure's [Kind] to its
// public errors and sentinels at the grant boundary.
package tokenendpoint
