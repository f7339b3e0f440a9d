package zarr_test

import (
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/zarr"
)

// interopScript creates zarr-python arrays for each case, prints each
// .zarray as zarr wrote it, NumPy's name of the dtype (dtype.name; for
// fixed-size strings and raw bytes dtype.str without the byte order) and
// the fill value's bytes (base64), then reads the .zarray texts given on
// stdin (written by this package) back with zarr and prints their fill
// bytes.
const interopScript = `
import base64, json, sys
import numpy as np, zarr
cases = json.loads(sys.argv[1])
out = []
for dtype, fill in cases:
    dt = np.dtype([tuple(f) for f in dtype] if isinstance(dtype, list) else dtype)
    if isinstance(fill, str) and dt.kind in "fc":
        fill = float(fill)
    elif isinstance(fill, str) and dt.kind == "S":
        fill = fill.encode()
    elif isinstance(fill, list):
        fill = np.array(tuple(fill), dtype=dt).tobytes()
    store = {}
    zarr.create(shape=(2,), chunks=(1,), dtype=dt, fill_value=fill, store=store, compressor=None)
    name = dt.name if dt.kind not in "SUV" or dt.names else dt.str[1:]
    if dt.names:
        name = "compound"
    fv = np.frombuffer(fill, dtype=dt) if isinstance(fill, bytes) and dt.names else np.array(fill, dtype=dt)
    out.append({"zarray": store[".zarray"].decode(), "name": name, "fill": base64.b64encode(fv.tobytes()).decode()})
back = []
for text in json.loads(sys.stdin.read()):
    meta = zarr.meta.decode_array_metadata(text.encode())
    back.append(base64.b64encode(np.array(meta["fill_value"], dtype=meta["dtype"]).tobytes()).decode())
print(json.dumps({"out": out, "back": back}))
`

// zarr-python 2 and NumPy agree with this package on dtypes, NumPy names
// and fill values, both ways: what zarr writes parses to the bytes NumPy
// holds, and what this package writes zarr reads back to the same bytes.
func TestInteropZarrPython(t *testing.T) {
	py := testenv.Python(t, "numpy", "zarr")
	// (-0.0 is left out: zarr 2 normalizes any zero fill to +0.)
	cases := [][2]any{
		{"<f4", "nan"}, {">f8", "-inf"}, {"<f8", "1e20"}, {"<f2", "0.5"},
		{"<i2", -32767}, {">u8", uint64(18446744073709551615)}, {"|i1", -128}, {"|u1", 255},
		{"|b1", true}, {"<c8", "nan"}, {"<c16", "1.5"}, {"|S3", "ab"}, {"<U2", "hé"},
		{"<M8[ns]", -9223372036854775808}, {"<m8[s]", 3600},
		{[][2]string{{"r", "<f4"}, {"i", "<f4"}}, []any{1.5, -2}},
	}
	arg, err := json.Marshal(cases)
	require.NoError(t, err)
	// First run: zarr writes; this package reads.
	cmd := exec.Command(py, "-c", interopScript, string(arg))
	cmd.Stdin = strings.NewReader("[]")
	raw, err := cmd.Output()
	require.NoError(t, err, "%s", stderr(err))
	var res struct {
		Out []struct{ Zarray, Name, Fill string }
	}
	require.NoError(t, json.Unmarshal(raw, &res))
	require.Len(t, res.Out, len(cases))
	var ours []string
	var wants []string
	for i, o := range res.Out {
		a, err := zarr.ParseArrayV2([]byte(o.Zarray))
		require.NoError(t, err, "%v: %s", cases[i], o.Zarray)
		assert.Equal(t, o.Name, a.DType.NumpyName(), "%v", cases[i])
		fill, err := a.DType.DecodeFill(a.FillValue)
		require.NoError(t, err, o.Zarray)
		want, _ := base64.StdEncoding.DecodeString(o.Fill)
		assert.Equal(t, want, fill, "%v: %s", cases[i], o.Zarray)
		// Written back by this package, for zarr to read.
		if a.FillValue, err = a.DType.EncodeFill(fill); err != nil {
			t.Fatalf("%v: %v", cases[i], err)
		}
		text, err := a.MarshalJSON()
		require.NoError(t, err)
		ours = append(ours, string(text))
		wants = append(wants, o.Fill)
	}
	in, _ := json.Marshal(ours)
	cmd = exec.Command(py, "-c", interopScript, "[]")
	cmd.Stdin = strings.NewReader(string(in))
	raw, err = cmd.Output()
	require.NoError(t, err, "%s", stderr(err))
	var back struct{ Back []string }
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, wants, back.Back, "zarr reads our fill values as the same bytes")
}

// stderr returns what a failed command wrote to stderr.
func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
