package core

import (
	"context"

	"github.com/bigjob-go/bigjob/coord"
)

// PauseWatcher stops this process's reader of s's event stream after its
// current read, until resume is called: its waiters fall behind.
func PauseWatcher(s *Service) (resume func()) {
	w := s.d.watcher
	ch := make(chan struct{})
	w.mu.Lock()
	w.paused = ch
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		w.paused = nil
		w.mu.Unlock()
		close(ch)
	}
}

// SetDataUnitState overwrites a data unit's state (and reason), as a copy
// in progress or one that failed would leave it.
func SetDataUnitState(ctx context.Context, du *DataUnit, st State, reason string) error {
	u := du.unit()
	return u.S.Store.UpdateDataUnit(ctx, u.S.Keys, u.ID, "", func(map[string]string) (map[string]string, error) {
		return map[string]string{coord.FieldState: string(st), coord.FieldReason: reason}, nil
	})
}
