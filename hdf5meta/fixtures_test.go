package hdf5meta_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/internal/testenv"
)

// fixture is one HDF5 fixture file, gunzipped when stored compressed.
type fixture struct {
	name  string
	path  string
	truth string
}

func fixtures(t testing.TB) []fixture {
	t.Helper()
	dir := filepath.Join("..", "testdata", "hdf5")
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []fixture
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".truth.json") || !(strings.HasSuffix(n, ".h5") || strings.HasSuffix(n, ".nc") || strings.HasSuffix(n, ".h5.gz")) {
			continue
		}
		p := filepath.Join(dir, n)
		tr := p + ".truth.json"
		if strings.HasSuffix(n, ".gz") {
			tr = strings.TrimSuffix(p, ".gz") + ".truth.json"
			p = testenv.FixtureFile(t, p)
		}
		out = append(out, fixture{name: n, path: p, truth: tr})
	}
	require.NotEmpty(t, out, "no fixtures in %s", dir)
	return out
}

func openFile(t testing.TB, p string) (*hdf5meta.File, *os.File) {
	t.Helper()
	fh, err := os.Open(p)
	require.NoError(t, err)
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	require.NoError(t, err)
	f, err := hdf5meta.Open(fh, st.Size())
	require.NoError(t, err)
	return f, fh
}

func TestFixturesMatchTruth(t *testing.T) {
	for _, fx := range fixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			raw, err := os.ReadFile(fx.truth)
			if os.IsNotExist(err) {
				t.Skipf("no truth file for %s", fx.name)
			}
			require.NoError(t, err)
			var tr testenv.H5Truth
			require.NoError(t, json.Unmarshal(raw, &tr))
			f, _ := openFile(t, fx.path)
			assert.Equal(t, tr.Superblock.Version, f.Superblock.Version, "superblock version")
			assert.Equal(t, tr.Superblock.Offset, f.Superblock.Offset, "superblock offset")

			seenDS := map[string]bool{}
			err = f.Walk(func(p string, o hdf5meta.Object) error {
				rel := strings.TrimPrefix(p, "/")
				switch o := o.(type) {
				case *hdf5meta.Group:
					if tg, ok := tr.Groups[rel]; ok {
						checkGroup(t, rel, o, tg)
					}
				case *hdf5meta.Dataset:
					if td, ok := tr.Datasets[rel]; ok {
						seenDS[rel] = true
						checkDataset(t, f, rel, o, td)
					}
				}
				return nil
			})
			require.NoError(t, err)
			for p := range tr.Datasets {
				if !seenDS[p] {
					// h5py lists each object once; we may reach it by another path.
					_, err := f.Object("/" + p)
					assert.NoError(t, err, "dataset %s not reachable", p)
				}
			}
		})
	}
}

func checkGroup(t *testing.T, p string, g *hdf5meta.Group, tg testenv.H5TruthGroup) {
	t.Helper()
	got := map[string]string{}
	for _, l := range g.Links {
		got[l.Name] = l.Kind.String()
	}
	want := map[string]string{}
	for n, l := range tg.Links {
		want[n] = l.Type
	}
	assert.Equal(t, want, got, "links of group %q", p)
	checkAttrs(t, p, g.Attrs, tg.Attributes)
}

func checkAttrs(t *testing.T, p string, attrs []*hdf5meta.Attribute, want map[string]testenv.H5TruthAttr) {
	t.Helper()
	got := map[string]*hdf5meta.Attribute{}
	for _, a := range attrs {
		got[a.Name] = a
	}
	for name, ta := range want {
		a, ok := got[name]
		if !assert.True(t, ok, "attribute %s@%s missing", p, name) {
			continue
		}
		if ta.RawB64 != "" && ta.Dtype.Kind != "O" && !strings.Contains(ta.Dtype.Numpy, "O") {
			wantRaw, err := base64.StdEncoding.DecodeString(ta.RawB64)
			require.NoError(t, err)
			assert.Equal(t, wantRaw, a.Raw, "raw bytes of %s@%s", p, name)
		}
		switch v := ta.Value.(type) {
		case string:
			if ta.Dataspace == "scalar" {
				assert.Equal(t, v, fmt.Sprint(a.Value), "value of %s@%s", p, name)
			}
		case []any:
			if ta.Dtype.Kind == "O" {
				if s, ok := a.Value.([]string); ok && len(s) == len(v) {
					for i := range s {
						assert.Equal(t, fmt.Sprint(v[i]), s[i], "value %d of %s@%s", i, p, name)
					}
				}
			}
		}
	}
	assert.Len(t, got, len(want), "number of attributes of %s", p)
}

func checkDataset(t *testing.T, f *hdf5meta.File, p string, d *hdf5meta.Dataset, td testenv.H5TruthDataset) {
	t.Helper()
	assert.Equal(t, td.Dataspace, d.Space.Kind.String(), "%s dataspace", p)
	if td.Dataspace == "simple" {
		assert.Equal(t, td.Shape, d.Space.Dims, "%s shape", p)
		maxs := make([]*uint64, len(d.Space.MaxDims))
		for i, m := range d.Space.MaxDims {
			if m != hdf5meta.Unlimited {
				v := m
				maxs[i] = &v
			}
		}
		assert.Equal(t, td.MaxShape, maxs, "%s maxshape", p)
	}
	if k := td.Dtype.Kind; k == "i" || k == "u" || k == "f" || k == "S" || k == "b" {
		if d.Type.Class != hdf5meta.ClassEnum || k == "b" {
			assert.Equal(t, td.Dtype.Numpy, d.Type.NumpyDtype(), "%s dtype", p)
		}
	}
	if td.Layout == "virtual" || td.Layout == "3" {
		assert.Equal(t, hdf5meta.LayoutVirtual, d.Layout.Class, "%s layout", p)
		return
	}
	assert.Equal(t, td.Layout, d.Layout.Class.String(), "%s layout", p)
	var filters [][]any
	// h5py's get_filter returns scale-offset's 20 client values with the
	// filter name written over the unused tail; compare the used prefix.
	params := func(id uint16, ps []uint32) string {
		if id == hdf5meta.FilterScaleOffset && len(ps) > 8 {
			ps = ps[:8]
		}
		return fmt.Sprint(ps)
	}
	for _, fl := range td.Filters {
		filters = append(filters, []any{fl.ID, fl.Flags, params(fl.ID, fl.Params)})
	}
	var gotFilters [][]any
	for _, fl := range d.Filters {
		gotFilters = append(gotFilters, []any{fl.ID, fl.Flags, params(fl.ID, fl.Params)})
	}
	assert.Equal(t, filters, gotFilters, "%s filters", p)
	if td.FillValue.RawB64 != "" && td.FillValue.Defined != "default" && td.FillValue.Defined != "undefined" {
		want, _ := base64.StdEncoding.DecodeString(td.FillValue.RawB64)
		if td.Dtype.Kind != "O" {
			assert.Equal(t, want, d.Fill.Value, "%s fill value", p)
		}
	}
	if len(td.External) > 0 {
		require.Len(t, d.External, len(td.External), "%s external files", p)
		for i, e := range td.External {
			assert.Equal(t, hdf5meta.ExternalFile{Name: e.Name, Offset: e.Offset, Size: e.Size}, d.External[i], "%s external file %d", p, i)
		}
	}
	switch d.Layout.Class {
	case hdf5meta.LayoutContiguous:
		if len(td.External) == 0 {
			if td.Addr == nil {
				assert.Equal(t, uint64(hdf5meta.UndefinedAddress), d.Layout.Address, "%s unallocated", p)
			} else {
				assert.Equal(t, *td.Addr, f.AbsOffset(d.Layout.Address), "%s address", p)
				if td.Size != nil {
					assert.Equal(t, *td.Size, d.Layout.Size, "%s size", p)
				}
			}
		}
	case hdf5meta.LayoutChunked:
		assert.Equal(t, td.Chunks, d.Layout.ChunkDims, "%s chunk shape", p)
		if td.ChunkIndex != "" {
			assert.Equal(t, td.ChunkIndex, d.Layout.ChunkIndex.String(), "%s chunk index", p)
		}
		var got []string
		var gotNoOffset []string
		require.NoError(t, d.ForEachChunk(func(c hdf5meta.Chunk) error {
			got = append(got, fmt.Sprint(c.Offset, f.AbsOffset(c.Addr), c.Size, c.FilterMask))
			gotNoOffset = append(gotNoOffset, fmt.Sprint(f.AbsOffset(c.Addr), c.Size, c.FilterMask))
			return nil
		}), p)
		if td.NumChunks != nil {
			assert.Equal(t, *td.NumChunks, len(got), "%s number of chunks", p)
		}
		if td.ChunkList == nil {
			return
		}
		var want, wantNoOffset []string
		for _, c := range td.ChunkList {
			want = append(want, fmt.Sprint(c.Offset, c.Addr, c.Size, c.FilterMask))
			wantNoOffset = append(wantNoOffset, fmt.Sprint(c.Addr, c.Size, c.FilterMask))
		}
		sort.Strings(got)
		sort.Strings(want)
		sort.Strings(gotNoOffset)
		sort.Strings(wantNoOffset)
		if swizzleBug(d) {
			// libhdf5 1.10's H5Dget_chunk_info reports swizzled offsets for
			// extensible arrays whose unlimited dimension is not the first;
			// the addresses still match (offsets are checked by data elsewhere).
			assert.Equal(t, wantNoOffset, gotNoOffset, "%s chunks", p)
		} else {
			assert.Equal(t, want, got, "%s chunks", p)
		}
	}
	checkAttrs(t, p, d.Attrs, td.Attributes)
}

func swizzleBug(d *hdf5meta.Dataset) bool {
	if d.Layout.ChunkIndex != hdf5meta.IndexExtArray {
		return false
	}
	return len(d.Space.MaxDims) > 0 && d.Space.MaxDims[0] != hdf5meta.Unlimited
}
