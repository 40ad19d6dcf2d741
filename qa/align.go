package qa

// Design: word-level Levenshtein. Two rows of costs are kept and, for the
// way back, one byte per cell saying which step reached it, so memory is
// (len(a)+1)·(len(b)+1) bytes: 4 MB for two 2,000-word texts. Ties go to
// the diagonal (a match or a substitution), then to a deletion, then to an
// insertion, so that a word heard wrong is one substitution rather than a
// deletion and an insertion, and the same texts always align the same way.

// step is one move of an alignment of a script with a transcript.
type step uint8

const (
	stepMatch step = iota // the script token was heard
	stepSub               // another token was heard in its place
	stepDel               // the script token was not heard
	stepIns               // a token was heard that the script does not have
)

// align returns the steps that turn a (the script's tokens) into b (the
// heard tokens) with the fewest substitutions, deletions and insertions.
func align(a, b []string) []step {
	n, m := len(a), len(b)
	width := m + 1
	back := make([]step, (n+1)*width)
	prev := make([]int, width)
	cur := make([]int, width)
	for j := 1; j <= m; j++ {
		prev[j] = j
		back[j] = stepIns
	}
	for i := 1; i <= n; i++ {
		cur[0] = i
		back[i*width] = stepDel
		for j := 1; j <= m; j++ {
			best, s := prev[j-1], stepMatch
			if a[i-1] != b[j-1] {
				best, s = best+1, stepSub
			}
			if c := prev[j] + 1; c < best {
				best, s = c, stepDel
			}
			if c := cur[j-1] + 1; c < best {
				best, s = c, stepIns
			}
			cur[j] = best
			back[i*width+j] = s
		}
		prev, cur = cur, prev
	}

	steps := make([]step, 0, max(n, m))
	for i, j := n, m; i > 0 || j > 0; {
		s := back[i*width+j]
		steps = append(steps, s)
		switch s {
		case stepMatch, stepSub:
			i, j = i-1, j-1
		case stepDel:
			i--
		case stepIns:
			j--
		}
	}
	for l, r := 0, len(steps)-1; l < r; l, r = l+1, r-1 {
		steps[l], steps[r] = steps[r], steps[l]
	}
	return steps
}
