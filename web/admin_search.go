package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Search: GET /search?q= takes an event, job or segment id and goes to its
// page. The id's prefix (evt_, job_) says what to try first; the other kinds
// are tried after, since a segment id is whatever the user chose.

type searchData struct {
	Query string
	// Tried lists what was looked for, when nothing matched.
	Tried []string
}

// searchKind is one kind of page an id can lead to.
type searchKind struct {
	name string // as the page says what was tried
	find func(ctx context.Context, id string) error
	path string // the page, before the escaped id
}

func (a *admin) searchKinds() map[string]searchKind {
	return map[string]searchKind{
		"event": {"an event", func(ctx context.Context, id string) error { _, err := a.s.Inbox.Event(ctx, id); return err }, "/events/"},
		"job":   {"a job", func(ctx context.Context, id string) error { _, err := a.s.Records.Job(ctx, id); return err }, "/jobs/"},
		"segment": {"a segment", func(ctx context.Context, id string) error {
			_, err := a.s.Records.Segment(ctx, id)
			return err
		}, "/segments/"},
	}
}

// searchOrder is the order to try the kinds in for q.
func searchOrder(q string) []string {
	switch {
	case strings.HasPrefix(q, "evt_"):
		return []string{"event", "segment", "job"}
	case strings.HasPrefix(q, "job_"):
		return []string{"job", "segment", "event"}
	}
	return []string{"segment", "job", "event"}
}

func (a *admin) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := searchData{Query: q}
	if q == "" {
		a.render(w, r, http.StatusOK, "search", page{Title: "Search", Search: q, Data: d})
		return
	}
	kinds := a.searchKinds()
	for _, k := range searchOrder(q) {
		kind := kinds[k]
		err := kind.find(r.Context(), q)
		switch {
		case err == nil:
			http.Redirect(w, r, kind.path+url.PathEscape(q), http.StatusSeeOther)
			return
		case !isNotFound(err):
			a.storeError(w, r, err, k)
			return
		}
		d.Tried = append(d.Tried, kind.name)
	}
	a.render(w, r, http.StatusNotFound, "search", page{Title: "Nothing matched", Search: q, Data: d})
}
