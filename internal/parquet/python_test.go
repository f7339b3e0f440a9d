package parquet_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/parquet"
	"github.com/greensight/vzarr/kerchunk"
)

// pyRow is the script's row exchange format: path (null or a string),
// offset, size, raw (null or base64).
type pyRow struct {
	Path   *string `json:"path"`
	Offset int64   `json:"offset"`
	Size   int64   `json:"size"`
	Raw    *string `json:"raw"`
}

func toPy(rows []parquet.Row) []pyRow {
	out := make([]pyRow, len(rows))
	for i, r := range rows {
		out[i] = pyRow{Offset: r.Offset, Size: r.Size}
		if r.Path != nil {
			s := string(r.Path)
			out[i].Path = &s
		}
		if r.Raw != nil {
			s := base64.StdEncoding.EncodeToString(r.Raw)
			out[i].Raw = &s
		}
	}
	return out
}

func fromPy(t *testing.T, rows []pyRow) []parquet.Row {
	out := make([]parquet.Row, len(rows))
	for i, r := range rows {
		out[i] = parquet.Row{Offset: r.Offset, Size: r.Size}
		if r.Path != nil {
			out[i].Path = []byte(*r.Path)
		}
		if r.Raw != nil {
			b, err := base64.StdEncoding.DecodeString(*r.Raw)
			require.NoError(t, err)
			out[i].Raw = b
		}
	}
	return out
}

// pyScript reads (argv[2] "read": the refs file argv[3], rows to stdout)
// or writes (argv[2] "write": rows from stdin to the file argv[3]) a refs
// file with pandas and the engine argv[1], writing as fsspec's
// LazyReferenceMapper asks pandas to (zstd; fastparquet with UTF-8 paths,
// binary raw and nullable path and raw).
const pyScript = `
import base64, json, sys
import pandas as pd
engine, op, fn = sys.argv[1:4]
if op == "read":
    df = pd.read_parquet(fn, engine=engine)
    rows = []
    for p, o, s, r in zip(df["path"], df["offset"], df["size"], df["raw"]):
        rows.append({"path": None if p is None or p != p else str(p), "offset": int(o), "size": int(s),
                     "raw": None if r is None or r != r else base64.b64encode(bytes(r)).decode()})
    json.dump(rows, sys.stdout)
else:
    rows = json.load(sys.stdin)
    df = pd.DataFrame({
        "path": pd.Series([r["path"] for r in rows], dtype="object"),
        "offset": pd.Series([r["offset"] for r in rows], dtype="int64"),
        "size": pd.Series([r["size"] for r in rows], dtype="int64"),
        "raw": pd.Series([None if r["raw"] is None else base64.b64decode(r["raw"]) for r in rows], dtype="object"),
    })
    kw = {}
    if engine == "fastparquet":
        kw = dict(object_encoding={"raw": "bytes", "path": "utf8"}, has_nulls=["path", "raw"], stats=False)
    df.to_parquet(fn, engine=engine, compression="zstd", index=False, **kw)
`

// pyEngines returns the pandas Parquet engines /usr/bin/python3 has.
// Neither is a CI dependency (Debian packages neither), so their absence
// skips, even with VZARR_REQUIRE_TOOLS=1.
func pyEngines(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, e := range []string{"pyarrow", "fastparquet"} {
		if exec.Command("/usr/bin/python3", "-c", "import pandas, "+e).Run() == nil {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		t.Skip("/usr/bin/python3 has neither pyarrow nor fastparquet")
	}
	return out
}

// TestPandasInterop reads the refs files of a set WriteParquetSet wrote
// with pandas, and a set whose refs files pandas wrote with
// ReadParquetSet, for each engine Python has.
func TestPandasInterop(t *testing.T) {
	engines := pyEngines(t)
	src := sampleSet()
	const rs = 4
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, kerchunk.WriteParquetSet(src, func(name string, b []byte) error {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
				return os.WriteFile(p, b, 0o644)
			}, &kerchunk.ParquetOptions{RecordSize: rs}))
			for name, keys := range setArrays {
				for rec := 0; rec*rs < len(keys); rec++ {
					want, _ := recordRows(src, keys, rec, rs)
					fn := filepath.Join(dir, filepath.FromSlash(name), "refs."+strconv.Itoa(rec)+".parq")
					// pandas reads ours.
					out, err := exec.Command("/usr/bin/python3", "-c", pyScript, engine, "read", fn).Output()
					require.NoError(t, err, "%s", errText(err))
					var got []pyRow
					require.NoError(t, json.Unmarshal(out, &got))
					assertRows(t, want, fromPy(t, got))
					// pandas writes, we read (the whole set below).
					in, err := json.Marshal(toPy(want))
					require.NoError(t, err)
					cmd := exec.Command("/usr/bin/python3", "-c", pyScript, engine, "write", fn)
					cmd.Stdin = bytes.NewReader(in)
					_, err = cmd.Output()
					require.NoError(t, err, "%s", errText(err))
				}
			}
			got, err := kerchunk.ReadParquetSet(func(name string) ([]byte, error) {
				return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			})
			require.NoError(t, err)
			assertSameRefs(t, src, got)
		})
	}
}

func errText(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
