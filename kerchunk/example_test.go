package kerchunk_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"

	"github.com/greensight/vzarr/kerchunk"
)

// Translate a netCDF-4 file into kerchunk references: the Zarr metadata
// of every variable and a reference per chunk (a byte range of the file,
// or the bytes themselves for small chunks).
func ExampleTranslate() {
	path, err := filepath.Abs("../testdata/hdf5/nc4_basic.nc")
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	res, err := kerchunk.Translate(context.Background(), f, st.Size(), path, kerchunk.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("format:", res.Format)
	fmt.Println("variables:", res.VarOrder)
	dims := make([]string, 0, len(res.Dimensions))
	for d, n := range res.Dimensions {
		dims = append(dims, fmt.Sprintf("%s=%d", d, n))
	}
	sort.Strings(dims)
	fmt.Println("dimensions:", dims)
	v := res.Variables["tas"]
	fmt.Println("tas:", v.Dtype, v.Shape, v.Chunks, v.Dims)
	first, _ := res.Refs.Get("tas/0.0.0")
	fmt.Println("tas/0.0.0 is inline:", first.IsInline())
	// Output:
	// format: netcdf4
	// variables: [time time_bnds lat lon tas]
	// dimensions: [bnds=2 lat=36 lon=72 time=12]
	// tas: float32 [12 36 72] [4 18 36] [time lat lon]
	// tas/0.0.0 is inline: false
}

// Write references as a kerchunk JSON file (version 1).
func ExampleWriteJSON() {
	refs := kerchunk.NewRefs(0)
	refs.SetText(".zgroup", `{"zarr_format":2}`)
	refs.SetText("x/.zarray", `{"chunks":[2],"compressor":null,"dtype":"<i4","fill_value":null,"filters":null,"order":"C","shape":[4],"zarr_format":2}`)
	refs.Set("x/0", kerchunk.Range("s3://bucket/data.bin", 1024, 8))
	refs.Set("x/1", kerchunk.Inline([]byte{1, 0, 0, 0, 2, 0, 0, 0}))
	if err := kerchunk.WriteJSON(os.Stdout, refs, nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"version":1,"refs":{
	// ".zgroup":"{\"zarr_format\":2}",
	// "x/.zarray":"{\"chunks\":[2],\"compressor\":null,\"dtype\":\"<i4\",\"fill_value\":null,\"filters\":null,\"order\":\"C\",\"shape\":[4],\"zarr_format\":2}",
	// "x/0":["s3://bucket/data.bin",1024,8],
	// "x/1":"base64:AQAAAAIAAAA="
	// }}
}

// Write references as a Parquet reference set (fsspec's
// LazyReferenceMapper layout: .zmetadata and a refs.N.parq file per array
// and record) and read them back.
func ExampleWriteParquetSet() {
	refs := kerchunk.NewRefs(0)
	refs.SetText(".zgroup", `{"zarr_format":2}`)
	refs.SetText("x/.zarray", `{"chunks":[1],"compressor":null,"dtype":"<f8","fill_value":"NaN","filters":null,"order":"C","shape":[3],"zarr_format":2}`)
	for i := range 3 {
		refs.Set(fmt.Sprintf("x/%d", i), kerchunk.Range("/data/x.nc", int64(4096+8*i), 8))
	}
	files := map[string][]byte{}
	put := func(name string, data []byte) error { files[name] = append([]byte(nil), data...); return nil }
	if err := kerchunk.WriteParquetSet(refs, put, &kerchunk.ParquetOptions{RecordSize: 2}); err != nil {
		log.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Println(names)

	back, err := kerchunk.ReadParquetSet(func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return b, nil
		}
		return nil, os.ErrNotExist
	})
	if err != nil {
		log.Fatal(err)
	}
	r, _ := back.Get("x/2")
	fmt.Println("x/2:", r)
	// Output:
	// [.zmetadata x/refs.0.parq x/refs.1.parq]
	// x/2: [/data/x.nc, 4112, 8]
}
