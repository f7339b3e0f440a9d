package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcCPU(t *testing.T) {
	// Spend some CPU so that this process's count is above zero.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = fmt.Sprint(x)
	}
	d, err := procCPU(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, d, time.Duration(0))
	_, err = procCPU(-1)
	assert.Error(t, err)
}

func TestForEach(t *testing.T) {
	tests := []struct {
		name    string
		items   int
		j       int
		failAt  int // item that fails (-1: none)
		wantErr bool
	}{
		{"all succeed", 40, 4, -1, false},
		{"one fails", 40, 8, 7, true},
		{"bound of at least one", 5, 0, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items := make([]string, tc.items)
			for i := range items {
				items[i] = fmt.Sprint(i)
			}
			var inFlight, maxSeen, calls atomic.Int64
			err := forEach(context.Background(), items, tc.j, func(it string) error {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
				}
				calls.Add(1)
				time.Sleep(time.Millisecond)
				if it == fmt.Sprint(tc.failAt) {
					return errors.New("fail " + it)
				}
				return nil
			})
			assert.Equal(t, tc.wantErr, err != nil, "%v", err)
			assert.Equal(t, int64(tc.items), calls.Load(), "every item is called")
			assert.LessOrEqual(t, maxSeen.Load(), int64(max(tc.j, 1)))
		})
	}
}
