package hdf5meta_test

import (
	"fmt"
	"log"
	"os"

	"github.com/greensight/vzarr/hdf5meta"
)

// Open an HDF5 file, walk its objects and list where a chunked dataset's
// chunks are stored.
func ExampleOpen() {
	f, err := os.Open("../testdata/hdf5/nc4_basic.nc")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	h5, err := hdf5meta.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("superblock version:", h5.Superblock.Version)
	err = h5.Walk(func(path string, o hdf5meta.Object) error {
		if ds, ok := o.(*hdf5meta.Dataset); ok {
			fmt.Println(path, ds.Type.Class, ds.Space.Dims, ds.Layout.Class)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	o, err := h5.Object("/tas")
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for c, err := range o.(*hdf5meta.Dataset).Chunks() {
		if err != nil {
			log.Fatal(err)
		}
		if n < 2 {
			fmt.Printf("chunk at %v: %d bytes at file offset %d\n", c.Offset, c.Size, h5.AbsOffset(c.Addr))
		}
		n++
	}
	fmt.Println("tas chunks:", n)
	// Output:
	// superblock version: 2
	// /time float [12] chunked
	// /time_bnds float [12 2] chunked
	// /lat float [36] contiguous
	// /lon float [72] contiguous
	// /bnds float [2] contiguous
	// /tas float [12 36 72] chunked
	// chunk at [0 0 0]: 3449 bytes at file offset 29020
	// chunk at [0 0 36]: 3425 bytes at file offset 32469
	// tas chunks: 12
}
