package validate

import (
	"bytes"
	"context"
	"io"
)

// Format names a file format as Sniff detects it.
type Format string

// The formats Sniff tells apart.
const (
	// FormatHDF5 is HDF5, and so netCDF-4.
	FormatHDF5 Format = "hdf5"
	// FormatNetCDF3 is netCDF classic: CDF-1, CDF-2 (64-bit offset) or
	// CDF-5 (64-bit data).
	FormatNetCDF3 Format = "netcdf3"
	// FormatUnknown is anything else.
	FormatUnknown Format = ""
)

// Sniff identifies the format from the file's first bytes (and, for HDF5
// files with a userblock, the superblock positions 512, 1024, ...).
func Sniff(r io.ReaderAt, size int64) Format {
	var head [8]byte
	if n, _ := r.ReadAt(head[:], 0); n >= 4 {
		if bytes.Equal(head[:3], []byte("CDF")) && (head[3] == 1 || head[3] == 2 || head[3] == 5) {
			return FormatNetCDF3
		}
	}
	hdf5Sig := []byte("\x89HDF\r\n\x1a\n")
	for off := int64(0); off+8 <= size; off = max(512, off*2) {
		if n, _ := r.ReadAt(head[:], off); n == 8 && bytes.Equal(head[:], hdf5Sig) {
			return FormatHDF5
		}
		if off >= 1<<30 {
			break
		}
	}
	return FormatUnknown
}

// Inspect builds the report for a NetCDF/HDF5 file of any supported format.
// r is read as given: a caller reading slow storage passes a cached reader
// (blobio's objects), so that sniffing the format costs no extra request.
// It stops with ctx's error when ctx is done.
func Inspect(ctx context.Context, r io.ReaderAt, size int64, url string, opts Options) (*Report, error) {
	switch Sniff(r, size) {
	case FormatHDF5:
		return InspectHDF5(ctx, r, size, url, opts)
	case FormatNetCDF3:
		return InspectNetCDF3(ctx, r, size, url, opts)
	}
	return nil, ErrNotNetCDF
}
