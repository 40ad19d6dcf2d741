package web

import (
	"context"

	"github.com/voicehook/voicehook"
)

// eventRow is an event as the events tables show it: with the voiceover a
// succeeded event stored, when the store can say.
type eventRow struct {
	voicehook.Event
	Audio *voicehook.EventAudio
}

// eventRows adds to events the audio of those that succeeded: one store
// query for the page, and none when the store keeps no such history (the
// details column then shows what the event says).
func (a *admin) eventRows(ctx context.Context, events []voicehook.Event) []eventRow {
	rows := make([]eventRow, len(events))
	var succeeded []string
	for i, ev := range events {
		rows[i].Event = ev
		if ev.Status == voicehook.EventSucceeded && ev.RelatedJob != "" {
			succeeded = append(succeeded, ev.ID)
		}
	}
	tl, ok := a.s.Inbox.(voicehook.Timeline)
	if !ok || len(succeeded) == 0 {
		return rows
	}
	audio, err := tl.EventAudio(ctx, succeeded)
	if err != nil {
		// The list is still worth showing without the sizes.
		a.s.Logger.Warn("events table: reading the voiceovers' sizes", "err", err)
		return rows
	}
	for i := range rows {
		if au, ok := audio[rows[i].ID]; ok {
			rows[i].Audio = &au
		}
	}
	return rows
}
