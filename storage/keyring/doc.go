// Package keyring is a [storage.Store] in the operating system's keyring
// (Secret Service on Linux and BSD, Keychain on macOS, Credential Manager on
// Windows) through github.com/zalando/go-keyring, plus a [storage.Locker]
// through a lock file.
//
// # Deadlines
//
// go-keyring has no timeouts, and a Secret Service that never answers (a
// stopped daemon, an unlock prompt nobody sees) blocks it forever. Every
// keyring call therefore runs in its own goroutine under [Store.Timeout] and
// the caller's context. A call that times out returns an
// [*UnavailableError] wrapping [context.DeadlineExceeded]; its goroutine
// stays blocked inside go-keyring until the service answers or the process
// exits. This cannot be avoided without a cancellable keyring API; it costs
// one goroutine per hung call.
//
// # What lands where
//
// Everything lands in the keyring; nothing is written to plain files except
// the empty lock files. A value is base64-encoded and stored as the secret
// of the item (service, user), where user is the key itself when it is short
// printable text, else "sha256:" and the hex SHA-256 of the key. When the
// encoded value is longer than [Store.ChunkSize] (Windows refuses secrets
// over 2560 bytes and macOS over about 3000, less than a JWT access token
// often needs), it is split: the chunks go to items of the service
// "<service>#chunks" under "<user>/<generation>/<n>", and the item (service,
// user) holds a small manifest naming the generation, the count and a
// SHA-256 of the value.
//
// A chunked Put writes the new chunks under a fresh generation, then the
// manifest, then deletes the previous generation's chunks, so a crash at any
// point leaves the old or the new value readable. A crash (or two processes
// writing the same key at once without [Store.Lock]) can leave unused chunk
// items behind; they hold old values and are never read.
//
// # Errors
//
// "Not found" is [storage.ErrNotFound]. Any failure to reach the keyring
// (no session bus, a locked collection, no answer in time) is an
// [*UnavailableError] with the cause. A value that does not decode wraps
// [ErrCorrupt].
package keyring
