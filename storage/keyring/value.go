package keyring

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// Secret formats, version 1. A whole value:
//
//	tokenrefresh:v1:<base64 of the value>
//
// A manifest of a chunked value, whose chunks are the base64 text cut into
// pieces, stored under (<service>#chunks, <user>/<gen>/<i>):
//
//	tokenrefresh-chunks:v1:<gen>:<count>:<hex sha256 of the value>
const (
	wholePrefix    = "tokenrefresh:v1:"
	manifestPrefix = "tokenrefresh-chunks:v1:"
	chunkService   = "#chunks"
	// maxChunks bounds what a manifest may ask Get to read.
	maxChunks = 100000
	// readAttempts bounds re-reads when a concurrent Put replaced the
	// chunks between reading the manifest and reading them.
	readAttempts = 3
)

// manifest describes a chunked value.
type manifest struct {
	gen   string
	count int
	sum   string
}

func (m manifest) String() string {
	return fmt.Sprintf("%s%s:%d:%s", manifestPrefix, m.gen, m.count, m.sum)
}

func (m manifest) chunkUser(user string, i int) string {
	return fmt.Sprintf("%s/%s/%d", user, m.gen, i)
}

// parseManifest returns the manifest in secret, ok false when secret is not
// a manifest, or an error wrapping ErrCorrupt when it is a damaged one.
func parseManifest(secret string) (manifest, bool, error) {
	rest, ok := strings.CutPrefix(secret, manifestPrefix)
	if !ok {
		return manifest{}, false, nil
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return manifest{}, true, fmt.Errorf("%w: bad chunk manifest", ErrCorrupt)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 1 || n > maxChunks || parts[0] == "" {
		return manifest{}, true, fmt.Errorf("%w: bad chunk manifest", ErrCorrupt)
	}
	return manifest{gen: parts[0], count: n, sum: parts[2]}, true, nil
}

// Get returns the value under key, or an error wrapping [storage.ErrNotFound].
// It returns an [*UnavailableError] when the keyring cannot be reached in
// time, and an error wrapping ctx.Err() when ctx ends first.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	user := userName(key)
	for attempt := 1; ; attempt++ {
		secret, err := s.get(ctx, "get", s.service, user)
		if err != nil {
			return nil, err
		}
		v, err := s.decode(ctx, user, secret)
		// A missing chunk may mean a concurrent Put replaced the value
		// after we read its manifest: read the manifest again.
		if errors.Is(err, storage.ErrNotFound) && attempt < readAttempts {
			continue
		}
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("keyring: get: %w: a chunk is missing", ErrCorrupt)
		}
		return v, err
	}
}

func (s *Store) decode(ctx context.Context, user, secret string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(secret, wholePrefix); ok {
		v, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("keyring: get: %w: bad base64", ErrCorrupt)
		}
		return v, nil
	}
	m, ok, err := parseManifest(secret)
	if !ok {
		return nil, fmt.Errorf("keyring: get: %w: not written by tokenrefresh", ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: get: %w", err)
	}
	var b strings.Builder
	for i := range m.count {
		piece, err := s.get(ctx, "get", s.service+chunkService, m.chunkUser(user, i))
		if err != nil {
			return nil, err
		}
		b.WriteString(piece)
	}
	v, err := base64.StdEncoding.DecodeString(b.String())
	if err != nil {
		return nil, fmt.Errorf("keyring: get: %w: bad base64 in chunks", ErrCorrupt)
	}
	if sum := sha256.Sum256(v); hex.EncodeToString(sum[:]) != m.sum {
		return nil, fmt.Errorf("keyring: get: %w: chunk checksum mismatch", ErrCorrupt)
	}
	return v, nil
}

// Put stores value under key, split into several items when it is longer
// than [Store.ChunkSize] (see the package doc). If the keyring refuses an
// item as too big, Put retries with smaller chunks. It returns an
// [*UnavailableError] when the keyring cannot be reached in time, and an
// error wrapping ctx.Err() when ctx ends first.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	user := userName(key)
	old, err := s.currentManifest(ctx, "put", user)
	if err != nil {
		return err
	}
	b64 := base64.StdEncoding.EncodeToString(value)
	for size := s.chunkSize(); ; size /= 2 {
		err = s.write(ctx, user, value, b64, size)
		if !errors.Is(err, errTooBig) || size/2 < 64 {
			break
		}
	}
	if err != nil {
		return err
	}
	// The new value is in place; the old chunks are garbage. Failing to
	// delete them loses nothing, so it is not reported.
	if old != nil {
		_ = s.deleteChunks(ctx, "put", user, *old)
	}
	return nil
}

// currentManifest returns the manifest stored under user, nil when the item
// is missing or holds a whole value.
func (s *Store) currentManifest(ctx context.Context, op, user string) (*manifest, error) {
	secret, err := s.get(ctx, op, s.service, user)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, ok, err := parseManifest(secret)
	if !ok || err != nil {
		return nil, nil // a damaged manifest's chunks cannot be found anyway
	}
	return &m, nil
}

// write stores the value whole, or as chunks of at most size bytes then the
// manifest.
func (s *Store) write(ctx context.Context, user string, value []byte, b64 string, size int) error {
	if len(wholePrefix)+len(b64) <= size {
		return s.set(ctx, "put", s.service, user, wholePrefix+b64)
	}
	sum := sha256.Sum256(value)
	m := manifest{gen: newGeneration(), count: (len(b64) + size - 1) / size, sum: hex.EncodeToString(sum[:])}
	for i := range m.count {
		piece := b64[i*size : min((i+1)*size, len(b64))]
		if err := s.set(ctx, "put", s.service+chunkService, m.chunkUser(user, i), piece); err != nil {
			_ = s.deleteChunks(ctx, "put", user, manifest{gen: m.gen, count: i})
			return err
		}
	}
	// If the manifest write fails, its chunks stay: a call that timed out
	// may still land, and its manifest must not point at deleted chunks.
	return s.set(ctx, "put", s.service, user, m.String())
}

func newGeneration() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// deleteChunks removes the chunks of m, ignoring missing ones.
func (s *Store) deleteChunks(ctx context.Context, op, user string, m manifest) error {
	for i := range m.count {
		err := s.del(ctx, op, s.service+chunkService, m.chunkUser(user, i))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Delete removes the value under key, and its chunks if it was split. A
// missing key is not an error. It returns an [*UnavailableError] when the
// keyring cannot be reached in time, and an error wrapping ctx.Err() when
// ctx ends first.
func (s *Store) Delete(ctx context.Context, key string) error {
	user := userName(key)
	old, err := s.currentManifest(ctx, "delete", user)
	if err != nil {
		return err
	}
	err = s.del(ctx, "delete", s.service, user)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if old != nil {
		return s.deleteChunks(ctx, "delete", user, *old)
	}
	return nil
}
