package blobio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/greensight/vzarr/blobio"
)

// An Opener reads and writes objects by URL: local paths and file://,
// abfs:// and az:// (Azure Blob Storage) and mem:// (in-memory buckets,
// as here). Scan lists the NetCDF files under a prefix, OpenObject gives
// a cached random-access reader, WriteAtomic writes an object whole or
// not at all.
func ExampleOpener() {
	ctx := context.Background()
	o := &blobio.Opener{Mem: &blobio.MemBuckets{}}
	if err := o.Mem.Create("archive").Close(); err != nil { // an empty bucket
		log.Fatal(err)
	}
	for _, name := range []string{"era5/t2m_2020.nc", "era5/t2m_2021.nc", "era5/README.txt"} {
		err := o.WriteAtomic(ctx, "mem://archive/"+name, func(w io.Writer) error {
			_, err := io.WriteString(w, "contents of "+name)
			return err
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	res, err := o.Scan(ctx, "mem://archive/era5", blobio.ScanOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.NCFiles, res.FileCount, res.TotalSizeBytes)

	obj, err := o.OpenObject(ctx, res.NCFiles[1])
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	p := make([]byte, 12)
	if _, err := obj.ReadAt(p, 12); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes, %q at 12\n", obj.Size(), p)

	_, err = o.OpenObject(ctx, "mem://archive/era5/missing.nc")
	fmt.Println(errors.Is(err, blobio.ErrNotFound))
	// Output:
	// [mem://archive/era5/t2m_2020.nc mem://archive/era5/t2m_2021.nc] 2 56
	// 28 bytes, "era5/t2m_202" at 12
	// true
}
