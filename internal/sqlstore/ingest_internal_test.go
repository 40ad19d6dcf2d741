package sqlstore

import "testing"

func TestChunkRows(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ remaining, want int }{
		{1, 1}, {2, 2}, {3, 2}, {7, 4}, {8, 8}, {63, 32}, {64, 64}, {65, 64}, {1000, 64},
	} {
		if got := chunkRows(tt.remaining); got != tt.want {
			t.Errorf("chunkRows(%d) = %d, want %d", tt.remaining, got, tt.want)
		}
	}
}
