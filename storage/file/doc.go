// Package file is a [storage.Store] that keeps each value in its own file in
// one directory, a [storage.Locker] that excludes other processes with a
// lock file beside it, and a [storage.Reserver] that sets disk space aside
// before a refresh token is spent.
//
// # Layout
//
// For a key K the Store uses, inside its directory (mode 0700):
//
//	<hex sha256 of K>.json   the value, in a versioned JSON envelope (mode 0600)
//	<hex sha256 of K>.lock   the lock file, empty, never deleted (mode 0600)
//	.<hex>.json.tmp-*        a write or reservation in progress (mode 0600)
//
// Keys never become paths, so any string is a valid key.
//
// # Safety
//
// Put writes a temporary file in the same directory, fsyncs it, renames it
// over the old file and fsyncs the directory: a crash leaves either the old
// or the new value, never a torn one. A data file other users can access,
// and a directory another user owns or others can write, are refused with a
// [*PermissionError], as ssh refuses such a private key. Neither a data file
// nor a lock file is ever opened through a symbolic link. A file that does
// not decode gives a [*CorruptError] naming it; one written by a newer,
// incompatible version gives a [*VersionError]. Neither is ever a panic.
//
// # Full disks and read-only file systems
//
// Errors of Put, Delete, Lock, Reserve and Commit caused by a full disk or
// quota (ENOSPC, EDQUOT) wrap [storage.ErrNoSpace]; those caused by a
// read-only file system (EROFS) wrap [storage.ErrReadOnly]; a denied write
// (EACCES, EPERM) matches fs.ErrPermission. The OS error stays in the chain
// too, so errors.Is(err, syscall.ENOSPC) holds as well. [Store.Reserve]
// preallocates a temporary file that [storage.Reservation.Commit] later
// overwrites and renames, so a commit does not fail for lack of space on
// file systems that write preallocated blocks in place (ext4, xfs, tmpfs;
// not copy-on-write ones such as btrfs or ZFS, where it is best effort).
//
// # Leftover temporary files
//
// A writer killed between creating its temporary file and renaming it
// leaves .<hex>.json.tmp-* behind. [Store.Lock] removes those of its key
// once it holds the lock, skipping files a live writer still has open (on
// Unix a writer holds an flock on its temporary file). Put, Reserve and
// Commit of a key should therefore run under that key's lock when other
// processes may share the directory, as the token source always does; a
// writer that does not hold the lock can, in a narrow window, lose its
// temporary file to the cleanup, and its write then fails (the stored value
// is never torn).
package file
