// Package validate produces the chunking validation report (Contract 3) for
// a NetCDF/HDF5 file: its netCDF variables with shapes, types, chunking and
// filters, the file's dimensions, and the warnings and errors a data
// publisher needs before virtualizing the file as Zarr (filters with no
// Zarr codec, huge contiguous variables, tiny or huge chunks, chunking that
// makes a map of one time step read a whole time series, variable-length
// data). With Options.Chunks it also lists every HDF5 dataset's storage:
// each chunk's element offset, absolute file address, stored size and
// filter mask.
package validate
