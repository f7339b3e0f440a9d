package zarr_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/zarr"
)

// layoutScript reads each .zarray text given on stdin with the stack's
// zarr-python (zarr 2: zarr.meta.decode_array_metadata; zarr 3:
// ArrayV2Metadata.from_dict, what opening an array does) and prints the
// NumPy dtype it gets as a layout: itemsize, and per field its name,
// offset, shape and base dtype (a nested layout for structured members).
const layoutScript = `
import json, sys
import numpy as np, zarr
def layout(dt):
    if dt.names is None:
        return dt.str
    fields = []
    for n in dt.names:
        ft, off = dt.fields[n][:2]
        fields.append([n, off, list(ft.shape), layout(ft.base)])
    return {"itemsize": dt.itemsize, "fields": fields}
out = []
for text in json.loads(sys.stdin.read()):
    try:
        if zarr.__version__.startswith("2."):
            dt = zarr.meta.decode_array_metadata(text.encode())["dtype"]
        else:
            from zarr.core.metadata.v2 import ArrayV2Metadata
            dt = ArrayV2Metadata.from_dict(json.loads(text)).dtype
        out.append(layout(dt))
    except Exception as e:
        out.append("error: %s: %s" % (type(e).__name__, e))
print(json.dumps(out))
`

// layoutOf is what layoutScript prints for d.
func layoutOf(d zarr.DType) any {
	if !d.IsStructured() {
		return d.Str
	}
	fields := make([]any, 0, len(d.Fields))
	for _, f := range d.Fields {
		shape := []any{}
		for _, n := range f.Shape {
			shape = append(shape, float64(n))
		}
		fields = append(fields, []any{f.Name, float64(f.Offset), shape, layoutOf(f.DType)})
	}
	return map[string]any{"itemsize": float64(d.Size), "fields": fields}
}

// Both reader stacks read the structured dtypes this package writes with
// the layout it means: nested members, padding, member offsets out of
// order, subarrays (zarr-python 3.0.6 refuses nested members in the list
// form; the dict form is read by both).
func TestInteropStructuredLayouts(t *testing.T) {
	stacks := testenv.Pythons(t, "numpy", "zarr")
	f4, _ := zarr.ParseDTypeString("<f4")
	u1, _ := zarr.ParseDTypeString("|u1")
	i8, _ := zarr.ParseDTypeString(">i8")
	s6, _ := zarr.ParseDTypeString("|S6")
	pos, err := zarr.NewStructured([]zarr.Field{{Name: "x", DType: f4}, {Name: "y", DType: f4}})
	require.NoError(t, err)
	padded, err := zarr.NewStructuredLayout([]zarr.Field{{Name: "x", DType: f4}, {Name: "flag", DType: u1, Offset: 4}}, 8)
	require.NoError(t, err)
	var dtypes []zarr.DType
	add := func(fields []zarr.Field, size int) {
		d, err := zarr.NewStructuredLayout(fields, size)
		require.NoError(t, err)
		dtypes = append(dtypes, d)
	}
	add([]zarr.Field{{Name: "id", DType: u1}, {Name: "pos", DType: pos, Offset: 1}, {Name: "name", DType: s6, Offset: 9}}, 15)
	add([]zarr.Field{{Name: "a", DType: u1}, {Name: "b", DType: i8, Offset: 8}}, 16)
	add([]zarr.Field{{Name: "b", DType: f4, Shape: []int{2, 3}, Offset: 16}, {Name: "a", DType: f4, Shape: []int{2}}, {Name: "n", DType: padded, Offset: 40}}, 56)
	add([]zarr.Field{{Name: "n", DType: padded, Shape: []int{3}}, {Name: "pos", DType: pos, Offset: 24}}, 32)
	texts := make([]string, len(dtypes))
	want := make([]any, len(dtypes))
	for i, d := range dtypes {
		a := zarr.ArrayV2{Shape: []uint64{2}, Chunks: []uint64{2}, DType: d, FillValue: json.RawMessage("null"), Order: 'C'}
		b, err := a.MarshalJSON()
		require.NoError(t, err)
		texts[i] = string(b)
		want[i] = layoutOf(d)
	}
	in, _ := json.Marshal(texts)
	for _, st := range stacks {
		t.Run(st.Name, func(t *testing.T) {
			cmd := st.Command("-c", layoutScript)
			cmd.Stdin = strings.NewReader(string(in))
			raw, err := cmd.Output()
			require.NoError(t, err, "%s", stderr(err))
			var got []any
			require.NoError(t, json.Unmarshal(raw, &got), "%s", raw)
			require.Len(t, got, len(dtypes))
			for i := range dtypes {
				assert.Equal(t, want[i], got[i], fmt.Sprintf("%s: %s", st.Name, dtypes[i].Str))
			}
		})
	}
}
