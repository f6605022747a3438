// Package benchpair runs two implementations side by side in one
// benchmark, in alternating blocks, so that a shared machine's noise falls
// on both alike. Only _test.go files import it.
package benchpair

import (
	"slices"
	"testing"
	"time"
)

// Run runs oauth2 and ours in alternating blocks of n calls each,
// swapping which goes first every round, and reports the median of the
// rounds' time ratios (ours/oauth2) and each side's time per call. One op
// is one round.
func Run(b *testing.B, n int, oauth2, ours func()) {
	block := func(f func()) time.Duration {
		start := time.Now()
		for range n {
			f()
		}
		return time.Since(start)
	}
	var ratios []float64
	var sumA, sumC time.Duration
	for b.Loop() {
		var a, c time.Duration
		if len(ratios)%2 == 0 {
			a, c = block(oauth2), block(ours)
		} else {
			c, a = block(ours), block(oauth2)
		}
		sumA, sumC = sumA+a, sumC+c
		ratios = append(ratios, float64(c)/float64(a))
	}
	slices.Sort(ratios)
	calls := float64(len(ratios) * n)
	b.ReportMetric(ratios[len(ratios)/2], "ours/oauth2")
	b.ReportMetric(float64(sumA.Nanoseconds())/calls, "oauth2-ns/call")
	b.ReportMetric(float64(sumC.Nanoseconds())/calls, "ours-ns/call")
	b.ReportMetric(0, "ns/op")
}
