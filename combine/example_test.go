package combine_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/greensight/vzarr/combine"
	"github.com/greensight/vzarr/kerchunk"
)

// translate returns the references of a local NetCDF file.
func translate(path string) *kerchunk.Refs {
	abs, err := filepath.Abs(path)
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(abs)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	res, err := kerchunk.Translate(context.Background(), f, st.Size(), abs, kerchunk.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return res.Refs
}

// Concatenate the references of two yearly files along time into one
// virtual dataset.
func ExampleCombine() {
	var sources []combine.Source
	for _, year := range []string{"2015", "2016"} {
		name := "tas_" + year + ".nc"
		sources = append(sources, combine.Refs(name, translate("../testdata/sample/"+name)))
	}
	res, err := combine.Combine(context.Background(), sources, combine.Options{
		ConcatDim: "time",
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sources:", res.SourceFiles)
	dims := make([]string, 0, len(res.Dimensions))
	for d, n := range res.Dimensions {
		dims = append(dims, fmt.Sprintf("%s=%d", d, n))
	}
	sort.Strings(dims)
	fmt.Println("dimensions:", dims)
	for name, v := range res.Variables {
		fmt.Println("variable:", name, v.Dims, v.Shape)
	}
	fmt.Println("time range:", res.TimeRange)
	fmt.Println("extent:", res.SpatialExtent)
	// Output:
	// sources: [tas_2015.nc tas_2016.nc]
	// dimensions: [bnds=2 lat=9 lon=18 time=24]
	// variable: tas [time lat lon] [24 9 18]
	// time range: [2015-01-16T12:00:00Z 2016-12-16T12:00:00Z]
	// extent: [-180 -80 180 80]
}
