// Package zarr is the one model of Zarr metadata in vzarr: Zarr v2 array
// (.zarray), group (.zgroup) and attribute (.zattrs) documents, Zarr v3
// zarr.json documents for arrays and groups, the data types both name, and
// their fill values.
//
// # Data types
//
// A DType is a NumPy dtype as Zarr v2 writes it: a string such as "<f4",
// ">i2", "|u1", "|b1", "<c8", "|S10", "<U5", "|O", "<M8[ns]", "|V8", or a
// structured dtype: a JSON list of [name, dtype] or [name, dtype, shape]
// fields (members packed in order), or NumPy's dict form {"names",
// "formats", "offsets", "itemsize"} (members at given offsets, padding
// allowed; a subarray member's format is "(2,3)<f4"). ParseDType reads
// every form; DType.JSON writes the list form for a packed dtype and the
// dict form for a padded one, and always the dict form for a structured
// member, since zarr-python 3 turns only the top level of the list form
// into the tuples NumPy needs (a nested list fails to open), while
// zarr-python 2 and 3 both hand a dict to NumPy as it is. NewStructured
// packs members; NewStructuredLayout keeps their offsets (an HDF5
// compound's layout). Zarr v3 has no member offsets: DataTypeV3 refuses a
// padded structured dtype. DType.V3 names the same type as Zarr v3 does (core types
// "float32", "int16", "bool", "complex64", ...; for the others, the names
// zarr-python 3 uses: "string", "null_terminated_bytes",
// "fixed_length_utf32", "raw_bytes", "numpy.datetime64",
// "numpy.timedelta64", "structured").
//
// # NumPy names
//
// DType.NumpyName is the one rule by which vzarr names a dtype in its
// reports (Contract 3's report, Contract 4's variables, combine's summary,
// the STAC data_type). It is what NumPy's dtype.name prints for numeric,
// boolean and time types ("float32", "int16", "uint8", "bool",
// "complex64", "datetime64[ns]", "timedelta64[s]"); for fixed-size
// strings and raw bytes it is the dtype without its byte order ("S10",
// "U5", "V8", as NumPy's repr shows them without the "|" or "<");
// variable-length ("O") data is "str" when it holds UTF-8 strings (the
// vlen-utf8 codec: what xarray records as encoding["dtype"] = str) and
// "object" otherwise (NumPy's name for "O"); a structured dtype is
// "compound", as netCDF-4 calls it.
//
// # Fill values
//
// Zarr v2 writes a float fill_value as a number or as one of the strings
// "NaN", "Infinity", "-Infinity"; bytes ("S", "V" and structured dtypes)
// as base64 text; Zarr v3 also accepts a float as the hex string of its
// IEEE 754 bits ("0x7fc00000"). DType.DecodeFill reads any of these into
// the bytes of one element (little- or big-endian as the dtype says);
// DType.EncodeFill and DType.EncodeFillV3 write them.
//
// # Python's JSON
//
// Python's json module writes NaN, Infinity and -Infinity as bare tokens,
// which are not JSON. QuoteNonFinite, ParseAttrs and AsFloat are the one
// lenient reader of such text in vzarr; AppendFloat writes floats as
// Python does.
package zarr
