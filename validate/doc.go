// Package validate produces the chunking validation report (Contract 3) for
// a NetCDF/HDF5 file: its netCDF variables with shapes, types, chunking and
// filters, the file's dimensions, and the warnings and errors a data
// publisher needs before virtualizing the file as Zarr (filters with no
// Zarr codec, huge contiguous variables, tiny or huge chunks, chunking that
// makes a map of one time step read a whole time series, variable-length
// data, and "skipped_variable": data no Zarr reader can use, such as region
// references, which kerchunk translation leaves out unless strict;
// "non_ieee_float": bfloat16 and other float layouts, which references hold
// decoded and inlined, so only up to the inline limit). Notes
// are facts that change neither the status nor a run: "packed_float32_attrs",
// a float32 scale_factor or add_offset, which xarray unpacks to float64
// through any Zarr store (JSON attributes). Variables and dimensions are
// named by package netcdf4, the view
// kerchunk translation uses too, so the report and the references describe
// the same dataset. With Options.Chunks it also lists every HDF5 dataset's
// storage, whatever its datatype and filters: each chunk's element offset,
// absolute file address, stored size and filter mask (a chunk index that
// cannot be read is a "chunk_index" error of the report, not a failure).
// Report.WriteJSON writes a report as encoding/json would, streaming the
// chunk lists (with Options.StreamChunks, read again from the file as they
// are written, never held in memory).
package validate
