package memory

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// String describes s by how many values it holds, never by their contents
// (they are tokens).
func (s *Store) String() string {
	if s == nil {
		return "memory.Store(nil)"
	}
	s.mu.Lock()
	n := len(s.values)
	s.mu.Unlock()
	return fmt.Sprintf("memory.Store{%d values}", n)
}

// GoString implements [fmt.GoStringer] so that %#v hides values too.
func (s *Store) GoString() string { return s.String() }

// Format implements [fmt.Formatter]: every verb prints String.
func (s *Store) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue implements [slog.LogValuer].
func (s *Store) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes String, never the values.
func (s *Store) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
