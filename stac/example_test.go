package stac_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/stac"
)

// Describe a reference set (here the translation of one local file) and
// build its STAC Item.
func ExampleBuild() {
	path, err := filepath.Abs("../testdata/sample/tas_2015.nc")
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

	// The description: dimensions, variables, extent, read from the
	// references (and from the file for coordinates not inlined).
	info, err := stac.FromReferences(context.Background(), res.Refs, stac.RefOptions{})
	if err != nil {
		log.Fatal(err)
	}
	item, err := stac.Build(info, stac.Options{
		DatasetID:  "sample-tas",
		ResourceID: "2015",
		Collection: "samples",
		RefURL:     "abfs://refs/sample-tas/2015/combined.json",
		Account:    "examplestore",
		Created:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(item.ID, item.Collection, item.BBox)
	fmt.Println(item.Properties.StartDatetime, item.Properties.EndDatetime)
	dims := make([]string, 0, len(item.Properties.CubeDimensions))
	for d, cd := range item.Properties.CubeDimensions {
		dims = append(dims, d+":"+cd.Type)
	}
	sort.Strings(dims)
	fmt.Println(dims)
	fmt.Println(item.Assets["references"].Href)
	// Output:
	// sample-tas-2015 samples [-180 -80 180 80]
	// 2015-01-16T12:00:00Z 2015-12-16T12:00:00Z
	// [bnds:other lat:spatial lon:spatial time:temporal]
	// abfs://refs/sample-tas/2015/combined.json
}
