package web

import (
	"time"

	"github.com/voicehook/voicehook"
)

// An event's history as operators read it. An event waiting for its job
// records an attempt at every look (34 identical "waiting" rows in ten
// minutes) and a dead one its retries, often with the same error: each run
// of consecutive attempts with the same outcome and error is one row that
// says how many it stands for, and between which times.

// historyRow is a run of identical attempts. Its Attempt fields are the
// run's last attempt, so a row of one attempt is that attempt as the API
// always showed it; Count, FirstAttempt, FirstAt and LastAt say what the
// row stands for.
type historyRow struct {
	voicehook.Attempt
	Count int `json:"count"`
	// FirstAttempt is the number of the run's first attempt (Attempt is
	// the last's).
	FirstAttempt int `json:"first_attempt"`
	// FirstAt is when the first attempt started, LastAt when the last
	// finished.
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
}

// collapseHistory turns attempts, oldest first, into rows: consecutive
// attempts with the same outcome and error text become one. Never nil.
func collapseHistory(attempts []voicehook.Attempt) []historyRow {
	rows := []historyRow{}
	for _, a := range attempts {
		if n := len(rows); n > 0 && rows[n-1].Outcome == a.Outcome && rows[n-1].Error == a.Error {
			last := &rows[n-1]
			last.Attempt = a
			last.Count++
			last.LastAt = a.FinishedAt
			continue
		}
		rows = append(rows, historyRow{Attempt: a, Count: 1, FirstAttempt: a.Attempt, FirstAt: a.StartedAt, LastAt: a.FinishedAt})
	}
	return rows
}
