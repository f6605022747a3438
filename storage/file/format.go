package file

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

const (
	// formatName marks our data files.
	formatName = "tokenrefresh-store"
	// formatVersion is the version Put writes and the newest Get reads.
	// Every older version must keep decoding (see testdata/).
	formatVersion = 1
)

// envelope is the on-disk form of one value, version 1:
//
//	{"format":"tokenrefresh-store","version":1,"key":"<key>",
//	 "data":"<base64 of the value>","sha256":"<hex sha256 of the value>"}
//
// The key is kept so a file can be matched to its key (file names are
// hashes); the checksum catches a torn or edited file.
type envelope struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Key     string `json:"key"`
	Data    []byte `json:"data"`
	SHA256  string `json:"sha256"`
}

func encode(key string, value []byte) ([]byte, error) {
	sum := sha256.Sum256(value)
	b, err := json.Marshal(envelope{
		Format:  formatName,
		Version: formatVersion,
		Key:     key,
		Data:    value,
		SHA256:  hex.EncodeToString(sum[:]),
	})
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decode checks and unpacks a data file read from path for key.
func decode(path, key string, b []byte) ([]byte, error) {
	corrupt := func(err error) error { return &CorruptError{Path: path, Err: err} }
	// Read the version first so a newer format with other fields is
	// reported as newer, not as corrupt.
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, corrupt(fmt.Errorf("not valid JSON (truncated?): %w", err))
	}
	if head.Format != formatName {
		return nil, corrupt(fmt.Errorf("format %q, want %q", head.Format, formatName))
	}
	if head.Version > formatVersion {
		return nil, &VersionError{Path: path, Version: head.Version}
	}
	if head.Version < 1 {
		return nil, corrupt(fmt.Errorf("invalid format version %d", head.Version))
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, corrupt(fmt.Errorf("bad version %d envelope: %w", head.Version, err))
	}
	if env.Key != key {
		return nil, corrupt(errors.New("file holds a different key"))
	}
	sum := sha256.Sum256(env.Data)
	if env.SHA256 != hex.EncodeToString(sum[:]) {
		return nil, corrupt(errors.New("checksum mismatch"))
	}
	if env.Data == nil {
		env.Data = []byte{}
	}
	return env.Data, nil
}
