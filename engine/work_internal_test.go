package engine

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestOutageLevel: the level of a run of failures rises when a whole
// delay of the current level has passed, not with each failure, and a
// success ends the run.
func TestOutageLevel(t *testing.T) {
	ctx := context.Background()
	err := errors.New("catalog away")
	for _, tc := range []struct {
		name string
		step time.Duration // the delay of every level
		want []int         // levels of five failures in a row
	}{
		{"many failures within one delay stay at level 1", time.Hour, []int{1, 1, 1, 1, 1}},
		{"each failure after a whole delay rises a level", 0, []int{1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &outage{what: "handling messages", log: slog.New(slog.DiscardHandler), now: time.Now,
				step: func(int) time.Duration { return tc.step }}
			var got []int
			for range tc.want {
				got = append(got, o.failed(ctx, err))
			}
			assert.Equal(t, tc.want, got)
			o.recovered(ctx)
			assert.Equal(t, 1, o.failed(ctx, err), "a success ends the run")
		})
	}
}
