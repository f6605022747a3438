// Package fleet holds the fleet test of the stores shared by many machines
// (storage/postgres, storage/redis): the proof that one rotating login
// survives a fleet of workers that are killed, paused and cut off from a
// restarting engine. The tests re-execute their own test binary as the
// worker processes. The package has no API.
//
// TestFleetPostgres and TestFleetRedis each start a private engine and an
// authorization server (tokensource/authtest) with strict rotation, reuse
// detection and 2-second access tokens, seed one session, and run 16
// worker processes for 30 seconds. Each worker has its own connection
// pool and its own tokensource.Source on the store, all on one key, and
// calls a protected resource through the transport package in a loop,
// reporting every request and every step of a rotation on stdout. Every
// 2-4 seconds the harness disrupts the fleet: it SIGKILLs a worker (every
// other kill aimed at a worker inside a rotation) and starts a
// replacement; once it SIGSTOPs a worker (the lock holder if it can) for
// twice the 1-second lock lease; once it crashes the engine, keeps it down
// for 3 seconds (longer than a token lives, so requests must wait for the
// store) and starts it again (PostgreSQL: immediate shutdown and crash
// recovery; Redis: SIGKILL and append-only file replay). Then it SIGTERMs the workers, which close their Sources.
//
// The tests assert outcomes only, never timings: no failed request in a
// worker that was not killed, no reuse detection, refreshes at most 1.2
// times the minimum plus 3, logins at most 1 plus one per kill, pause and
// restart, every surviving worker finished cleanly, and the stored session
// continues by refresh. TestFleetPostgresTakeover and
// TestFleetRedisTakeover measure how soon a waiting process takes the lock
// over after its holder was SIGKILLed, and assert only that it does.
//
// Run them with the engines installed (apt-get install postgresql
// redis-server; without them the tests skip, or fail when
// TOKENREFRESH_POSTGRES_TEST=require or TOKENREFRESH_REDIS_TEST=require is
// set):
//
//	go test -race ./internal/fleet -v
//
// The figures are logged (-v shows them) and, when
// TOKENREFRESH_FLEET_REPORT names a file, written to it as JSON. The flags
// -fleet.duration and -fleet.workers run longer or larger fleets:
//
//	TOKENREFRESH_FLEET_REPORT=/tmp/fleet.json go test -race ./internal/fleet -v -fleet.duration=2m
package fleet
