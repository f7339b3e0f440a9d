// Package kerchunk writes and reads kerchunk reference files, and
// translates NetCDF/HDF5 files into them, so that fsspec's "reference://"
// filesystem and xarray's zarr engine read the original file's data as a
// Zarr v2 store.
//
// # The promise
//
// Every reference set this package writes, opened with
//
//	xr.open_dataset("reference://", engine="zarr", backend_kwargs={
//	    "storage_options": {"fo": REFS, "remote_protocol": "file"}})
//
// (the same call on xarray 2023/zarr-python 2 and xarray 2025/zarr-python
// 3: every set carries consolidated metadata, .zmetadata, which xarray
// reads when consolidated is left unset; consolidated=False would make
// zarr-python 3 list the store, which fails below the root of a
// reference:// store)
// resolves to the same data as xr.open_dataset on the original (the netcdf4
// engine for netCDF files, h5netcdf for plain HDF5): same variables,
// dimensions, coordinates, decoded dtypes, values and attributes. Where that
// cannot hold (see "Limits") translation fails with an error naming the
// file, the variable and the reason, or, with Options.SkipUnsupported,
// omits the variable and lists it in Result.Skipped. Variables no Zarr
// reader can use at all (region references, compounds with
// variable-length members: see UnusableType) are left out by default,
// listed in Result.Skipped and Result.Warnings; Options.Strict refuses
// them. Nothing is dropped silently.
//
// # Reference model
//
// Refs maps Zarr keys to Ref values, in insertion order, compactly: keys
// and inline bytes in paged arenas, a 32-byte entry per reference, no
// per-chunk strings or maps (the Get/Set index is built on first use).
// TranslateHDF5 streams chunk references from a chunk index into it a
// window at a time when the index lists chunks in grid order (else it
// lists them first, 32 bytes each), so that translating and writing a file
// takes about 100 bytes of memory per chunk (Options.OnHeader and
// EstimateMemory let a caller budget it before the chunk indexes are
// read). WriteJSON writes
// kerchunk spec version 1 ({"version": 1, "templates": ..., "refs": ...})
// deterministically, one reference per line; URLs used more than once
// become templates ("{{u}}"), which fsspec expands by simple substitution.
// Inline values are text (Zarr metadata) or "base64:..." (chunk bytes).
// ReadJSON reads version 1 (templates and simple "gen" entries expanded)
// and version 0 files, whether written here, by Python's kerchunk or by
// fsspec. Refs.Consolidate builds the set's .zmetadata ({"metadata":
// {every .zgroup/.zarray/.zattrs key}, "zarr_consolidated_format": 1})
// from its metadata keys, copying no chunk reference; the translators,
// combine and ReadParquetSet call it last, so every set written is
// consolidated and in step. WriteParquetSet and ReadParquetSet use the
// layout of fsspec's LazyReferenceMapper (a directory with .zmetadata,
// which fsspec serves as the consolidated metadata key, and <array>/refs.N.parq
// files; zstd-compressed PLAIN pages, as fsspec writes them), written and
// read by a small built-in Parquet codec (internal/parquet, tested against
// arrow-go's implementation in both directions).
//
// # Groups, variables and dimensions
//
// Every HDF5 group becomes a Zarr group (.zgroup, and .zattrs when it has
// attributes), nested to any depth; every dataset a Zarr array under its
// path, with the name netCDF-C gives it (the "_nc4_non_coord_" prefix
// removed). Soft links to datasets are followed, as netCDF-C and h5netcdf
// do; netCDF-4 dimension-only datasets are not variables.
//
// _ARRAY_DIMENSIONS holds plain names (never group paths), as netCDF-C
// names them; variables, dimensions and attributes come from package
// netcdf4, the one netCDF-4 view that the validation report uses too (see
// its documentation for the rules: dimension scales, _Netcdf4Coordinates,
// phony dimensions numbered as netCDF-C numbers them). A name therefore
// always means one length within a group, and the names equal those
// netCDF4-python shows. A variable shorter than its unlimited dimension
// is given the dimension's length, its tail reading as the netCDF fill
// value, as netCDF-C returns it.
//
// # Chunks
//
// Chunked datasets keep their chunking; contiguous and compact datasets are
// one chunk; scalars have the key "v/0", others "v/i.j.k". Chunks are
// referenced as [url, offset, length] in the source; chunks stored in fewer
// than Options.InlineThreshold bytes (default 500) and compact data are
// copied inline. Never-written chunks are left out when Zarr's fill_value
// reads as what libhdf5 returns for them, and written out (inline, encoded
// with the variable's codecs) when it does not.
//
// # Fill values
//
// xarray's zarr backend masks the .zarray fill_value (it becomes the
// _FillValue attribute), while netCDF4-python and h5netcdf mask only a
// _FillValue attribute. So fill_value is:
//
//   - the variable's _FillValue attribute, converted to its type (the
//     attribute then lives in fill_value only). A _FillValue of another
//     type stays an ordinary attribute, as netCDF4-python returns it;
//   - else NaN, when never-written data reads as NaN (masking NaN as NaN
//     changes nothing);
//   - else null: no mask, ints stay ints. Never-written chunks then cannot
//     be left out, since zarr would return uninitialised memory: they are
//     written inline holding what libhdf5 returns for them (the dataset's
//     fill value, or zeros when its fill time is "never" or no fill value
//     is defined). With a compressor such a chunk is a few bytes. Such
//     chunks are encoded with the variable's own codec chain, even when
//     none of its chunks was written, so that the variable combines with
//     the same variable of files where it was. Past Options.FillBudget (default 16 MiB of such chunks per
//     file), or when the variable's codecs have no Go encoder, fill_value
//     is set to that value instead (raw reads stay exact, xarray masks it)
//     and Result.Warnings says so.
//
// Zarr v2 float fill values are written as "NaN", "Infinity", "-Infinity";
// string, opaque and structured ones as base64 of their bytes.
//
// # Codecs
//
// The HDF5 filter pipeline maps to Zarr "filters" in pipeline order, with a
// null "compressor" (numcodecs applies filters in reverse on decoding, as
// libhdf5 does): deflate to zlib (level), shuffle to shuffle (elementsize),
// fletcher32 to fletcher32, LZF to imagecodecs_lzf (header false), zstd
// (32015) to zstd, Blosc (32001) to blosc, LZ4 (32004) to imagecodecs_lz4h5.
// A chunk whose filter mask skipped filters (or that straddles the end of a
// shorter-than-its-dimension variable) is decoded in Go and re-encoded
// inline with the variable's chain.
//
// Where no exact chain exists (szip, scale-offset, n-bit, unknown plugins,
// shuffle applied to data that is not a whole number of elements, such as
// 8-byte elements followed by a fletcher32 checksum), and for data readers
// convert on reading (space-padded strings, integers with reduced
// precision, the rare compound Zarr cannot lay out as stored: see Types),
// a variable of at most
// Options.InlineVarMax bytes (default 1 MiB) is decoded in Go (package
// codecs; n-bit and scale-offset here) and inlined, zlib-compressed; larger
// ones fail with ErrUnsupported naming the file, the variable and the
// filter. szip is decoded by a Go AEC (CCSDS 121.0) decoder that follows
// libaec's szip emulation (byte interleaving of 32/64-bit pixels, padded
// scanlines).
//
// # Types and strings
//
// Numbers keep their byte order ("<f4", ">i2"); enums map to their base
// type (h5py's boolean enum to "|b1"); opaque to "|V{n}"; compounds to
// structured dtypes with the HDF5 member offsets and size, padding
// included (zarr.NewStructuredLayout: NumPy's dict form, which
// zarr-python 2 and 3 both read), so their chunks are referenced as
// stored; a compound member with array dimensions inside a padded compound
// has no such form, and that compound is packed (its data inlined, see
// above). HDF5 array types add trailing dimensions.
// Fixed-length strings and netCDF char arrays are "|S{n}", read as netCDF
// and h5py read them. Variable-length strings (data, coordinates, scalars)
// are embedded with the vlen-utf8 codec, variable-length sequences with
// vlen-array, object references as the paths of their targets (vlen-utf8).
// Region references and compounds with variable-length members are left
// out (see above).
//
// # Virtual datasets
//
// A virtual dataset (VDS) whose mappings each place a whole source dataset
// (of the same rank, or rows of a lower rank), chunked (or contiguous)
// like the other sources with the same filters, at a position on that
// chunk grid references the sources' chunks directly; positions no mapping
// covers read as the VDS's fill value. Sources may be in the same file or,
// when Options.OpenSource is set, in other files inside its directory
// (resolved like external storage; their chunks are referenced, never
// copied). Other mappings (part of a source, points, unlimited or strided
// selections, overlaps) are ErrUnsupported, saying why.
//
// # External storage
//
// Contiguous data stored in external raw files (H5Pset_external) is
// referenced there, never copied: file names are resolved relative to the
// HDF5 file's directory (as libhdf5 does with the prefix "${ORIGIN}") and
// must stay inside it (else ErrExternalPath). One segment is one chunk;
// several become a grid of chunks each inside one segment (1 along leading
// dimensions, a divisor of one dimension, whole trailing ones); a segment
// boundary that cuts an element is ErrUnsupported.
//
// Attributes keep their types as far as JSON can: numbers stay numbers
// (integers exact; float32 values written as the float64 they widen to),
// arrays stay arrays, a one-element array is a scalar (as netCDF4-python
// returns it), empty strings stay empty, NaN and infinities are written as
// Python's json writes them, and all metadata is ASCII with \u escapes, as
// zarr 2 reads it.
//
// # netCDF-3
//
// TranslateNetCDF3 handles classic (CDF-1), 64-bit offset (CDF-2) and
// 64-bit data (CDF-5) files: fixed variables are one chunk, record
// variables one chunk per record at the record stride (unpadded when the
// file has a single record variable), big-endian dtypes; attributes keep
// their netCDF types; _FillValue becomes fill_value; missing_value and
// _Unsigned stay attributes for xarray to decode.
//
// # Limits
//
// xarray's zarr backend hides attributes whose names start with "_NC"
// (such as a user attribute "_NCPROPERTIES"); readers of
// vlen-array chunks get object arrays where netCDF4-python reports the base
// dtype. A variable shorter than its unlimited dimension has the netCDF
// shape (h5py shows the shorter HDF5 shape), and "_nc4_non_coord_x" is
// written as "x", its netCDF name. Chunks of more than 1 GiB decoded are
// never materialised. See refread.Verify for checking references without
// Python.
package kerchunk
