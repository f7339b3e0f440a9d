// Package hdf5meta reads the metadata of HDF5 files (and so of netCDF-4
// files) in pure Go, without libhdf5 and without reading any raw data: the
// superblock, the group tree with its links, every object header message
// (dataspace, datatype, fill value, filter pipeline, data layout,
// attributes) and the chunk indexes that locate a chunked dataset's
// chunks in the file. It is the layer under the netCDF-4 view (package
// netcdf4) that validate and kerchunk present, in the manner of
// debug/elf: small structs that mirror the format, filled from an
// io.ReaderAt.
//
// Open reads the superblock; everything else is read on demand and at most
// once (reads go through a rangeio cache, so a file on blob storage
// costs few requests). File.Root and File.Walk give the group tree,
// File.Object an object by path, Dataset.Chunks the chunks of a chunked
// dataset; over slow storage, File.PrefetchChunkIndexes first fetches the
// chunk indexes of many datasets level by level, so that the round trips
// are the depth of the indexes. Each Option bounds or tunes the reading: WithLimits caps what a
// hostile file may make the reader allocate or visit.
//
// Versions 0 to 3 of the superblock, version 1 and 2 object headers, old
// and new style groups (symbol tables, compact and dense link storage),
// shared messages, and all chunk indexes (B-tree v1 and v2, single chunk,
// implicit, fixed and extensible arrays) are supported. A file that breaks
// the format gives a *FormatError wrapping ErrFormat, ErrTruncated or
// ErrUnsupported (for errors.Is), never a panic; checksums of version 2+
// structures are verified unless WithoutChecksums is given.
package hdf5meta
