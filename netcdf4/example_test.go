package netcdf4_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/netcdf4"
)

// Build the netCDF-4 view of a file and list its variables with their
// dimension names, as ncdump and netCDF4-python show them.
func ExampleNew() {
	fh, err := os.Open("../testdata/hdf5/nc4_basic.nc")
	if err != nil {
		log.Fatal(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		log.Fatal(err)
	}
	h, err := hdf5meta.Open(fh, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	view, err := netcdf4.New(context.Background(), h)
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range view.Vars {
		fmt.Println(v.Key(), v.DimNames(), v.Shape())
	}
	// Output:
	// time [time] [12]
	// time_bnds [time bnds] [12 2]
	// lat [lat] [36]
	// lon [lon] [72]
	// tas [time lat lon] [12 36 72]
}
