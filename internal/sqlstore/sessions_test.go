package sqlstore_test

import (
	"context"
	"testing"
	"time"
)

// A sign-out recorded through one replica is seen by the others, and is
// forgotten once the session has expired anyway.
func TestRevokeSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		dbs, clock := s.replicas(t, 2)
		revoked := func(id string) bool {
			t.Helper()
			got, err := dbs[1].SessionRevoked(ctx, id)
			if err != nil {
				t.Fatalf("SessionRevoked(%s): %v", id, err)
			}
			return got
		}
		if _, err := dbs[0].Secret(ctx, "callback_key", func() string { return "k" }); err != nil {
			t.Fatal(err)
		}
		if revoked("s1") {
			t.Fatal("a session never signed out is revoked")
		}
		if err := dbs[0].RevokeSession(ctx, "s1", clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := dbs[0].RevokeSession(ctx, "s1", clock.Now().Add(time.Hour)); err != nil {
			t.Fatalf("signing out twice: %v", err)
		}
		if !revoked("s1") || revoked("s2") {
			t.Fatalf("after signing out s1: s1 %v, s2 %v", revoked("s1"), revoked("s2"))
		}
		// The next sign-out sweeps s1, which expired meanwhile.
		clock.Advance(2 * time.Hour)
		if err := dbs[0].RevokeSession(ctx, "s2", clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if revoked("s1") || !revoked("s2") {
			t.Errorf("after the sweep: s1 %v (want forgotten), s2 %v (want revoked)", revoked("s1"), revoked("s2"))
		}
		// The sweep leaves the other meta rows (the secrets) alone.
		if k, err := dbs[1].Secret(ctx, "callback_key", func() string { return "new" }); err != nil || k != "k" {
			t.Errorf("callback_key after the sweep = %q, %v; want the stored k", k, err)
		}
	})
}
