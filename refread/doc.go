// Package refread reads Zarr v2 arrays through kerchunk references, in Go:
// what a reader (zarr-python over fsspec's "reference://" filesystem)
// would return, without Python.
//
// A Store wraps a kerchunk.Refs. Store.Open parses an array's .zarray and
// .zattrs with package zarr (the one model of the metadata: dtypes, fill
// values, Python's NaN); Array.Read fetches every chunk (inline data, or a byte range of
// a URL through a Fetcher), runs the codec chain as zarr does (the
// compressor, then the filters in reverse, with the Go codecs of package
// kerchunk/codecs), fills chunks that have no reference with fill_value
// and assembles the values in C order: []float64 for float dtypes,
// []int64 for integer, boolean and datetime dtypes, []string for "S", "U"
// and vlen-utf8 object dtypes. Byte order ('<', '>', '|') and both chunk
// orders (C, F) are honoured; Data.Float64s, Int64s and Strings convert.
//
// The default Fetcher, blobio.BlobFetcher, opens URLs with blobio (local paths,
// file://, abfs://, az://, azblob://, mem://) and keeps recently used
// objects open; inject another Fetcher to read from elsewhere.
//
// refread is meant for coordinates and other small arrays (package
// combine reads time, latitude and longitude with it): Read materialises
// the whole array. Array.ChunkBytes reads one chunk of any dtype as its
// decoded bytes (or vlen items); Verify uses it to compare references
// with their source file, read directly by kerchunk.Source.
package refread
