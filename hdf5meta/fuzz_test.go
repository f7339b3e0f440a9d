package hdf5meta

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"
)

// The fuzz target and the corruption tests share exercise: it does what a
// user of the package does with a file (open it, walk every object, list
// every dataset's chunks, resolve soft links, read
// every attribute) and reports every error it meets.

// fixtureDir holds the HDF5 and netCDF-4 fixtures.
const fixtureDir = "../testdata/hdf5"

// maxSeedSize keeps fuzz seeds small enough for the mutator to be useful.
const maxSeedSize = 1 << 20

// fixtureBytes returns the contents of the fixtures of at most maxSize
// bytes, by name, in name order.
func fixtureBytes(tb testing.TB, maxSize int64) (names []string, data map[string][]byte) {
	tb.Helper()
	data = map[string][]byte{}
	for _, pat := range []string{"*.h5", "*.nc"} {
		ms, err := filepath.Glob(filepath.Join(fixtureDir, pat))
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range ms {
			st, err := os.Stat(p)
			if err != nil {
				tb.Fatal(err)
			}
			if st.Size() > maxSize {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			names = append(names, filepath.Base(p))
			data[filepath.Base(p)] = b
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		tb.Fatalf("no fixtures in %s", fixtureDir)
	}
	return names, data
}

// exerciseLimits bound what one input may cost. Real files stay far below
// them; an input above them shows a missing cap in the parser.
const (
	exerciseMaxChunks   = 1 << 22 // chunks listed per dataset
	exerciseMaxSoftLink = 256     // soft links resolved per input
)

// exercise opens data and reads everything hdf5meta can read from it. It
// returns the errors met, each from a separate operation.
func exercise(data []byte, opts ...Option) []error {
	var errs []error
	f, err := Open(bytes.NewReader(data), int64(len(data)), opts...)
	if err != nil {
		return append(errs, err)
	}
	var softs []string
	touchAttrs := func(as []*Attribute) {
		for _, a := range as {
			_ = a.Type.String()
			_ = a.Type.Name()
			_ = a.Type.HasVarLen()
			_ = fmt.Sprint(a.Value)
		}
	}
	err = f.Walk(func(p string, o Object) error {
		touchAttrs(o.Attributes())
		switch o := o.(type) {
		case *Group:
			for _, l := range o.Links {
				if l.Kind == LinkSoft && len(softs) < exerciseMaxSoftLink {
					softs = append(softs, p+"/"+l.Name)
				}
			}
		case *Dataset:
			_ = o.Type.String()
			_ = o.Space.NumElements()
			if o.Layout.Class != LayoutChunked {
				break
			}
			n := 0
			cerr := o.ForEachChunk(func(Chunk) error {
				if n++; n > exerciseMaxChunks {
					return fmt.Errorf("more than %d chunks listed for %s", exerciseMaxChunks, p)
				}
				return nil
			})
			if cerr != nil {
				errs = append(errs, cerr)
			}
		case *NamedDatatype:
			_ = o.Type.String()
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	for _, s := range softs {
		if _, err := f.Object(s); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkTyped fails t unless err wraps one of the package's sentinels
// through a *FormatError that says where the problem is.
func checkTyped(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNotFound) {
		t.Fatalf("untyped error: %v (%T)", err, err)
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error without a *FormatError: %v", err)
	}
	if fe.Offset < 0 && fe.Path == "" {
		t.Fatalf("error with neither offset nor path: %v", err)
	}
}

// Per-input guards: a hostile input must neither hang nor make the parser
// allocate far more than its size.
const (
	inputDeadline = 20 * time.Second
	allocFixed    = 256 << 20 // bytes any input may allocate
	allocPerByte  = 64        // and this much per input byte
)

// guardedExercise runs exercise with and without checksum verification
// (without, mutations reach the structures behind the checksums) under a
// watchdog and an allocation bound, and checks every error.
func guardedExercise(t testing.TB, data []byte) {
	t.Helper()
	// A hang must not end the fuzzer silently: crash the worker with the
	// stacks, which makes the fuzzer record the input as a crasher.
	timer := time.AfterFunc(inputDeadline, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		panic(fmt.Sprintf("input of %d bytes still running after %v:\n%s", len(data), inputDeadline, buf))
	})
	defer timer.Stop()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, opts := range [][]Option{nil, {WithoutChecksums()}} {
		for _, err := range exercise(data, opts...) {
			checkTyped(t, err)
		}
	}
	runtime.ReadMemStats(&after)
	limit := uint64(allocFixed + allocPerByte*len(data))
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Fatalf("input of %d bytes allocated %d bytes (limit %d)", len(data), got, limit)
	}
}

// mutations returns a few deterministic damaged copies of b, so the seed
// corpus starts with inputs that reach the error paths.
func mutations(b []byte) [][]byte {
	var out [][]byte
	cp := func() []byte { return append([]byte(nil), b...) }
	out = append(out, b[:len(b)/2], b[:min(len(b), 600)])
	for _, pos := range []int{13, 14, 60, 100, 200, 400, 1000, 2000} {
		if pos < len(b) {
			c := cp()
			c[pos] ^= 0xff
			out = append(out, c)
		}
	}
	return out
}

func FuzzOpen(f *testing.F) {
	names, data := fixtureBytes(f, maxSeedSize)
	for _, n := range names {
		f.Add(data[n])
	}
	// Mutations of the smallest fixtures only: the fuzzer makes more.
	for _, n := range []string{"h5_extlink_target.h5", "h5_sohm_list.h5", "nc4_classic.nc"} {
		if b, ok := data[n]; ok {
			for _, m := range mutations(b) {
				f.Add(m)
			}
		}
	}
	for _, b := range builtSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		guardedExercise(t, b)
	})
}
