package voicehook_test

import (
	"testing"

	"github.com/voicehook/voicehook"
)

func TestJobQueryString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q    voicehook.JobQuery
		want string
	}{
		{voicehook.JobQuery{}, ""},
		{voicehook.JobQuery{SegmentID: "seg_1"}, `segment "seg_1"`},
		{voicehook.JobQuery{ExternalIDs: []string{"conv_1", "ag_1"}}, "ids conv_1, ag_1"},
		{voicehook.JobQuery{SegmentID: "seg_1", ExternalIDs: []string{"conv_1"}}, `segment "seg_1" or ids conv_1`},
	} {
		if got := tc.q.String(); got != tc.want {
			t.Errorf("%#v.String() = %q; want %q", tc.q, got, tc.want)
		}
	}
}
