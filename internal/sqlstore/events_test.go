package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

func TestListEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
		mk := func(id string, at int, seg, typ string) voicehook.NewEvent {
			ev := newEvent(id, id, sec(at))
			ev.SegmentID, ev.Type = seg, typ
			return ev
		}
		ingest(t, db,
			mk("e01", 1, "A", "speech.completed"),
			mk("e02", 2, "B", "post_call_audio"),
			mk("e03", 3, "A", "post_call_audio"),
		)
		ingest(t, db,
			mk("e06", 5, "B", "speech.completed"), // same time as e05: id breaks the tie
			mk("e04", 4, "", "speech.completed"),
			mk("e05", 5, "A", "speech.completed"),
		)
		finish(t, db, "e02", voicehook.EventFinish{Status: voicehook.EventSucceeded})
		finish(t, db, "e03", voicehook.EventFinish{Status: voicehook.EventFailed})
		finish(t, db, "e05", voicehook.EventFinish{Status: voicehook.EventFailed})

		tests := []struct {
			name string
			f    voicehook.EventFilter
			want []string
		}{
			{"all newest first", voicehook.EventFilter{}, []string{"e06", "e05", "e04", "e03", "e02", "e01"}},
			{"status failed", voicehook.EventFilter{Status: voicehook.EventFailed}, []string{"e05", "e03"}},
			{"status received", voicehook.EventFilter{Status: voicehook.EventReceived}, []string{"e06", "e04", "e01"}},
			{"status none", voicehook.EventFilter{Status: voicehook.EventDead}, []string{}},
			{"segment", voicehook.EventFilter{SegmentID: "A"}, []string{"e05", "e03", "e01"}},
			{"type", voicehook.EventFilter{Type: "post_call_audio"}, []string{"e03", "e02"}},
			{"since inclusive", voicehook.EventFilter{Since: sec(3)}, []string{"e06", "e05", "e04", "e03"}},
			{"until exclusive", voicehook.EventFilter{Until: sec(3)}, []string{"e02", "e01"}},
			{"since and until", voicehook.EventFilter{Since: sec(2), Until: sec(5)}, []string{"e04", "e03", "e02"}},
			{"combined", voicehook.EventFilter{SegmentID: "A", Status: voicehook.EventFailed, Since: sec(4)}, []string{"e05"}},
			{"limit", voicehook.EventFilter{Limit: 2}, []string{"e06", "e05"}},
			{"before tie", voicehook.EventFilter{BeforeID: "e06", Limit: 2}, []string{"e05", "e04"}},
			{"before", voicehook.EventFilter{BeforeID: "e03"}, []string{"e02", "e01"}},
			{"before with filter", voicehook.EventFilter{Status: voicehook.EventReceived, BeforeID: "e04"}, []string{"e01"}},
			{"before the last", voicehook.EventFilter{BeforeID: "e01"}, []string{}},
		}
		for _, tt := range tests {
			got, err := db.ListEvents(ctx, tt.f)
			if err != nil {
				t.Fatalf("%s: ListEvents: %v", tt.name, err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}

		// Paging with BeforeID walks the whole list without overlap.
		for _, f := range []voicehook.EventFilter{{Limit: 2}, {Limit: 4}, {Limit: 1, SegmentID: "A"}} {
			var pages [][]string
			var walked []string
			before := ""
			for range 10 {
				f.BeforeID = before
				page, err := db.ListEvents(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > f.Limit {
					t.Errorf("page of %d, limit %d", len(page), f.Limit)
				}
				if len(page) == 0 {
					break
				}
				pages = append(pages, ids(page))
				walked = append(walked, ids(page)...)
				before = page[len(page)-1].ID
			}
			whole := f
			whole.Limit, whole.BeforeID = 0, ""
			all, err := db.ListEvents(ctx, whole)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ids(all), walked); diff != "" {
				t.Errorf("paging %+v: pages %v (-whole list +walked):\n%s", f, pages, diff)
			}
		}

		counts, err := db.CountEvents(ctx, 0)
		if err != nil {
			t.Fatalf("CountEvents: %v", err)
		}
		want := map[string]int{string(voicehook.EventReceived): 3, string(voicehook.EventSucceeded): 1, string(voicehook.EventFailed): 2}
		if diff := cmp.Diff(want, counts); diff != "" {
			t.Errorf("CountEvents(0) (-want +got):\n%s", diff)
		}
		counts, err = db.CountEvents(ctx, sec(4).UnixMicro())
		if err != nil {
			t.Fatalf("CountEvents: %v", err)
		}
		want = map[string]int{string(voicehook.EventReceived): 2, string(voicehook.EventFailed): 1}
		if diff := cmp.Diff(want, counts); diff != "" {
			t.Errorf("CountEvents(since 4s) (-want +got):\n%s", diff)
		}
		counts, err = db.CountEvents(ctx, sec(6).UnixMicro())
		if err != nil || len(counts) != 0 {
			t.Errorf("CountEvents(after all) = %v, %v; want empty", counts, err)
		}
	})
}

func TestListEventsDefaultLimit(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, _ := s.setup(t)
		var evs []voicehook.NewEvent
		for i := range 103 {
			id := fmt.Sprintf("evt_%03d", i)
			evs = append(evs, newEvent(id, id, t0.Add(time.Duration(i)*time.Second)))
		}
		ingest(t, db, evs...)
		for _, limit := range []int{0, -1, 5000} {
			got, err := db.ListEvents(context.Background(), voicehook.EventFilter{Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 100 || got[0].ID != "evt_102" {
				t.Errorf("limit %d: %d events starting %v; want 100 newest first", limit, len(got), ids(got[:1]))
			}
		}
		got, err := db.ListEvents(context.Background(), voicehook.EventFilter{Limit: 103})
		if err != nil || len(got) != 103 {
			t.Errorf("limit 103: %d events, %v", len(got), err)
		}
	})
}
