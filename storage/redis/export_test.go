package redis

// DisableRenewal stops s from renewing the leases of the locks it takes
// from now on, so that they run out as if their holder were paused.
func DisableRenewal(s *Store) { s.skipRenew = true }

// Keys returns the Redis keys of the record and the lock of key.
func Keys(s *Store, key string) (record, lock string) { return s.keys(key) }

// CASScript is the compare-and-set script, to run with a chosen write ID as
// a retry by go-redis would send it again.
var CASScript = casScript
