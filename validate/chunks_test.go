package validate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/validate"
)

// TestInspectChunksListsEveryDataset checks that Options.Chunks lists the
// storage of every dataset h5py found in each fixture, whatever its
// datatype (compound, opaque, references...) and filters (szip,
// scale-offset, n-bit...), with the chunks h5py lists, and keeps the
// report's errors beside the listing.
func TestInspectChunksListsEveryDataset(t *testing.T) {
	truths, err := filepath.Glob(filepath.Join("..", "testdata", "hdf5", "*.truth.json"))
	require.NoError(t, err)
	require.NotEmpty(t, truths)
	opts := validate.DefaultOptions()
	opts.Chunks = true
	for _, tp := range truths {
		src := strings.TrimSuffix(tp, ".truth.json")
		if _, err := os.Stat(src); err != nil {
			src += ".gz"
		}
		t.Run(filepath.Base(src), func(t *testing.T) {
			raw, err := os.ReadFile(tp)
			require.NoError(t, err)
			var truth testenv.H5Truth
			require.NoError(t, json.Unmarshal(raw, &truth))
			data := testenv.ReadFixture(t, src)
			rep, err := validate.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), src, opts)
			require.NoError(t, err)
			for name, want := range truth.Datasets {
				got := rep.Datasets[name]
				if !assert.NotNil(t, got, "dataset %s is not listed", name) {
					continue
				}
				assert.Equal(t, want.Layout, got.Layout, "layout of %s", name)
				if want.Layout != "chunked" || want.NumChunks == nil {
					continue
				}
				require.Len(t, got.ChunkList, *want.NumChunks, "chunks of %s", name)
				if len(want.ChunkList) != len(got.ChunkList) {
					continue // the truth lists big indexes by digest only
				}
				// The chunk index's order is not h5py's: compare by offset.
				byOffset := map[string]validate.ChunkInfo{}
				for _, g := range got.ChunkList {
					byOffset[fmt.Sprint(g.Offset)] = g
				}
				for _, c := range want.ChunkList {
					g, ok := byOffset[fmt.Sprint(c.Offset)]
					if !assert.True(t, ok, "%s: no chunk at %v", name, c.Offset) {
						continue
					}
					assert.Equal(t, c.Addr, uint64(g.Addr), "%s chunk %v address", name, c.Offset)
					assert.Equal(t, c.Size, g.Size, "%s chunk %v size", name, c.Offset)
					assert.Equal(t, c.FilterMask, g.FilterMask, "%s chunk %v filter mask", name, c.Offset)
				}
			}
		})
	}
}

// TestInspectChunksKeepsErrors: a file with filters that have no Zarr codec
// gets its full listing and its errors in one report.
func TestInspectChunksKeepsErrors(t *testing.T) {
	opts := validate.DefaultOptions()
	opts.Chunks = true
	src := filepath.Join("..", "testdata", "hdf5", "h5_latest_layouts.h5")
	data := testenv.ReadFixture(t, src)
	rep, err := validate.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), src, opts)
	require.NoError(t, err)
	assert.Equal(t, validate.StatusError, rep.Status)
	errs := map[string]string{}
	for _, e := range rep.Errors {
		errs[e.Variable] = e.Code
	}
	for _, name := range []string{"filters/szip", "filters/scaleoffset_int", "filters/scaleoffset_float", "filters/nbit_i32_p12"} {
		assert.Equal(t, "unsupported_filter", errs[name], name)
		if assert.Contains(t, rep.Datasets, name) {
			assert.NotEmpty(t, rep.Datasets[name].ChunkList, "chunks of %s", name)
		}
	}
}

// TestInspectCancelled: a done context stops the report with its error.
func TestInspectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range []string{"hdf5/nc4_basic.nc", "netcdf3/classic.nc"} {
		src := filepath.Join("..", "testdata", name)
		data := testenv.ReadFixture(t, src)
		_, err := validate.Inspect(ctx, bytes.NewReader(data), int64(len(data)), src, validate.DefaultOptions())
		assert.ErrorIs(t, err, context.Canceled, name)
	}
}
