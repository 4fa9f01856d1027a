package oneapitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"time"

	"github.com/erpconnector/erpconnector/internal/atomicfile"
)

// saveInterval is how often changed state is written to the state file.
const saveInterval = 500 * time.Millisecond

type snapshot struct {
	Version int                `json:"version"`
	RNG     []byte             `json:"rng"`
	Tenants map[string]*tenant `json:"tenants"`
}

// Save writes the state file now (temp file, fsync, rename).
func (s *Server) Save() error {
	if s.opts.StatePath == "" {
		return errors.New("oneapitest: no state file configured")
	}
	s.mu.Lock()
	rngState, err := s.src.MarshalBinary()
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("oneapitest: save: %w", err)
	}
	b, err := json.Marshal(snapshot{Version: 1, RNG: rngState, Tenants: s.tenants})
	s.dirty = false
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("oneapitest: save: %w", err)
	}
	return atomicfile.Write(s.opts.StatePath, b)
}

// load reads the state file; a missing file leaves the fresh state.
// Tenants given in Options keep their configured keys.
func (s *Server) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("oneapitest: load state: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("oneapitest: load state %s: %w", path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(snap.RNG) > 0 {
		src := &rand.PCG{}
		if err := src.UnmarshalBinary(snap.RNG); err != nil {
			return fmt.Errorf("oneapitest: load state: %w", err)
		}
		s.src = src
		s.rng = rand.New(src)
	}
	for name, t := range snap.Tenants {
		if cur := s.tenants[name]; cur != nil {
			t.Key = cur.Key
		}
		t.Name = name
		s.tenants[name] = t
	}
	return nil
}
