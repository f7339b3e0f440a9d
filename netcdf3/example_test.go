package netcdf3_test

import (
	"fmt"
	"log"
	"os"

	"github.com/greensight/vzarr/netcdf3"
)

// Open a file and list where each variable's data lie.
func ExampleOpen() {
	f, err := os.Open("../testdata/netcdf3/onerec_short.nc")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	nc, err := netcdf3.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(nc.Format, "records:", nc.NumRecs, "record size:", nc.RecordSize)
	for _, v := range nc.Vars {
		fmt.Printf("%s %s %v %v fill=%v\n", v.Name, v.Type.Dtype(), v.Dims, v.Shape, v.FillValue())
		for i := range v.NumSlabs() {
			r := v.Slab(i)
			fmt.Printf("  [%d, %d)\n", r.Offset, r.End())
		}
	}
	// Output:
	// NETCDF3_CLASSIC records: 5 record size: 6
	// lat >f4 [n] [3] fill=9.96921e+36
	//   [268, 280)
	// scalar >i4 [] [] fill=-2147483647
	//   [280, 284)
	// v >i2 [time n] [5 3] fill=-32767
	//   [308, 314)
	//   [314, 320)
	//   [320, 326)
	//   [326, 332)
	//   [332, 338)
	// after >f8 [n] [3] fill=9.969209968386869e+36
	//   [284, 308)
}
