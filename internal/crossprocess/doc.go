// Package crossprocess holds the tests that run several processes against
// one stored session: batch workers sharing a login, and a worker killed
// with SIGKILL in the middle of a rotation. The tests re-execute their own
// test binary as the child processes. The package has no API.
//
// By default the tests run for a few seconds. The -long flag restores the
// full runs, 100 kills per grant and 7 s of workers:
//
//	go test -race ./internal/crossprocess -long
package crossprocess
