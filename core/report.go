package core

import (
	"context"
	"fmt"
	"io"

	"github.com/bigjob-go/bigjob/report"
)

// Report writes the report of the service's run to w: one self-contained
// HTML page with the totals, a timeline of every unit on its pilot's slots,
// each pilot's slot utilisation over time, the distributions of queue wait
// and run time, the failures by reason and per-host figures (package
// report). It reads every pilot and unit record of the service, whichever
// process created them, in bounded batches; units of this process that are
// not written yet are not in it (Flush first to have them).
func (s *Service) Report(ctx context.Context, w io.Writer) error {
	if err := s.check(); err != nil {
		return err
	}
	r, err := report.Collect(ctx, s.d.store, s.d.keys)
	if err != nil {
		return fmt.Errorf("service %s: %w", s.id, err)
	}
	if err := report.Write(w, r); err != nil {
		return fmt.Errorf("service %s: %w", s.id, err)
	}
	return nil
}
