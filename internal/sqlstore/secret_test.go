package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/voicehook/voicehook/internal/sqlstore"
)

func TestSecret(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		dbs, _ := s.replicas(t, 2)
		var mu sync.Mutex
		n := 0
		gen := func() string {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprintf("generated_%d", n)
		}
		first, err := dbs[0].Secret(ctx, "callback_key", gen)
		if err != nil {
			t.Fatalf("Secret: %v", err)
		}
		if first != "generated_1" {
			t.Fatalf("first Secret = %q, want gen's value generated_1", first)
		}
		for i, db := range []*sqlstore.DB{dbs[0], dbs[1], dbs[0], dbs[1]} {
			got, err := db.Secret(ctx, "callback_key", gen)
			if err != nil {
				t.Fatalf("call %d: Secret: %v", i, err)
			}
			if got != first {
				t.Errorf("call %d: Secret = %q, want the stored %q", i, got, first)
			}
		}
		// Another name is another secret.
		media, err := dbs[1].Secret(ctx, "media_key", gen)
		if err != nil {
			t.Fatal(err)
		}
		if media == first || !strings.HasPrefix(media, "generated_") {
			t.Errorf("media_key = %q; want a new generated value", media)
		}

		// Replicas racing on a new name agree.
		const racers = 12
		got := make([]string, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { got[i], errs[i] = dbs[i%2].Secret(ctx, "raced_key", gen) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if len(slices.Compact(slices.Clone(got))) != 1 {
			t.Errorf("racing replicas got different secrets: %v", got)
		}
	})
}
