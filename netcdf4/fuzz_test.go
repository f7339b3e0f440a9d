package netcdf4_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/netcdf4"
)

// FuzzNew builds the view of hostile files: New never panics, and every
// variable it returns has one dimension per axis of its shape.
func FuzzNew(f *testing.F) {
	for _, p := range hdf5Files(f) {
		b := testenv.ReadFixture(f, p)
		if len(b) > 256<<10 {
			continue
		}
		f.Add(b)
		// A few damaged copies: the fuzzer makes more.
		f.Add(b[:len(b)/2])
		d := bytes.Clone(b)
		for i := 96; i < len(d); i += 197 {
			d[i] ^= 0xff
		}
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := hdf5meta.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		v, err := netcdf4.New(context.Background(), h)
		if err != nil {
			return
		}
		for _, x := range v.Vars {
			if len(x.Dims) != len(x.Shape()) {
				t.Fatalf("%s: %d dimensions for shape %v", x.Key(), len(x.Dims), x.Shape())
			}
			for i, d := range x.Dims {
				if d == nil {
					t.Fatalf("%s: axis %d has no dimension", x.Key(), i)
				}
			}
		}
	})
}
