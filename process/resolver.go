package process

import (
	"context"
	"fmt"

	"github.com/voicehook/voicehook"
)

// StepResolver resolves jobs kept in Records other than the SQL store's own
// (Airtable): it claims the job through Claims, moves it in Records if the
// event owns the claim, then records the attempt. Each step is safe to
// repeat: a crash between them leaves the claim, and the event runs again
// and finishes through it.
type StepResolver struct {
	Claims  voicehook.Claims
	Records voicehook.Records
}

var _ voicehook.Resolver = StepResolver{}

// Resolve claims, moves and records, in that order.
func (r StepResolver) Resolve(ctx context.Context, res voicehook.Resolution) (string, error) {
	owner, err := r.Claims.ClaimJob(ctx, res.Job.ID, res.EventID)
	if err != nil {
		return "", fmt.Errorf("claiming job: %w", err)
	}
	if owner == res.EventID {
		if err := r.Records.FinishJob(ctx, res.Job, res.End); err != nil {
			return owner, err
		}
	}
	a, fin := res.Outcome(owner)
	if err := r.Claims.RecordAttempt(ctx, a, &fin); err != nil {
		return owner, fmt.Errorf("recording attempt: %w", err)
	}
	return owner, nil
}
