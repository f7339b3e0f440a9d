// Package netcdf3 reads the header of NetCDF classic files: CDF-1 (classic),
// CDF-2 (64-bit offset) and CDF-5 (64-bit data), and tells where the data of
// each variable lies in the file, so that it can be referenced rather than
// copied.
//
// Open parses the header through an io.ReaderAt with as few reads as it can
// (one read for headers shorter than 64 KiB) and returns a File whose Dims,
// Attrs and Vars mirror the format. Var.Slab gives the byte range of a fixed
// variable's data, or of one record of a record variable; the layout follows
// netCDF-C exactly, including the rule that a file with exactly one record
// variable packs its records without padding to four bytes, and sizes are
// computed from shapes rather than from the vsize field, which CDF-1 and
// CDF-2 clamp for variables over 4 GiB.
//
// The package reads only metadata: it never reads variable data. Every count
// and length read from the header is checked against the bytes left in the
// file before anything is allocated, so hostile input yields an error (one
// that wraps ErrFormat, ErrTruncated or ErrUnsupported) rather than a panic or
// a large allocation.
//
// The format is described in "The NetCDF Classic Format Specification" of the
// NetCDF Users Guide and, for CDF-5, in the PnetCDF CDF-5 specification; where
// those leave a choice, the package follows what netCDF-C accepts on reading.
package netcdf3
