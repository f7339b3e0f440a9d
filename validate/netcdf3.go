package validate

import (
	"fmt"
	"io"
)

// InspectNetCDF3 builds the report for a netCDF-3 file.
func InspectNetCDF3(r io.ReaderAt, size int64, url string, opts Options) (*Report, error) {
	return nil, fmt.Errorf("%w: netCDF-3 inspection is not built yet", ErrNotNetCDF)
}
