package core

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
