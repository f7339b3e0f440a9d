// Package combine concatenates the kerchunk references of many files
// (ours, or Python kerchunk's version 0/1 JSON) along one dimension into
// the references of one virtual dataset (Contract 5), and refuses, with an
// error naming the file, the variable and the reason, whatever would make
// the combined data mean something else than the files.
//
// # What it does
//
// Combine loads the inputs a few at a time (Options.Parallel), in order,
// keeps only what the output needs (chunk references of the arrays along
// the concat dimension, the first input's other arrays) and writes:
//
//   - the first input's groups, attributes and arrays without the concat
//     dimension (checked for the same shape and dtype in every input; with
//     Options.Identical, for the same values too);
//   - every array along the concat dimension with its chunk keys renumbered
//     along that axis, each input after the previous one.
//
// # Memory
//
// A file may have tens of millions of chunks, so combine keeps no record
// per chunk: for each input array, the positions of its chunk references
// in the loaded input (4 bytes a chunk; the grid index is parsed again
// from the key when written). The output is appended key by key in its
// final order into a compact kerchunk.Refs and made unique once at the
// end (as Set would have), with no index grown key by key; the inputs'
// key indexes are dropped once parsed, and each input's references are
// released as soon as its last chunk is written. What combine holds is
// about the loaded inputs plus the output (TestCombineManyChunksMemory,
// BenchmarkCombineManyChunks).
//
// # What it checks
//
// Every input must have the same variables with the same dimensions,
// dtypes, codecs, order and chunk shape off the concat axis, and the same
// CF packing: _FillValue (the .zarray fill_value, or the attribute
// Python's kerchunk keeps), missing_value, scale_factor, add_offset, and
// units for variables along the concat dimension. Any difference is an
// *IncompatibleError (errors.Is(err, ErrIncompatible)).
//
// Zarr v2 chunks all have one length, and only the last chunk of an array
// may be partial. So the chunk length along the concat axis must be the
// same in every input, and every input but the last must be a whole number
// of chunks long. When that fails (a 366-day year chunked by year among
// 365-day ones, a short file in the middle) and the variable's chunks are
// uncompressed with the concat axis outermost, the chunks are split
// exactly into byte ranges of g steps, g the greatest common divisor of
// the chunk lengths and input lengths (a warning says so). Encoded chunks
// cannot be split without copying data: the error names the file, its
// length, the chunk length and the remedy (rechunk, chunk length 1 along
// the dimension works for any calendar, or make the short file last).
//
// # Times
//
// Arrays along the concat dimension whose units are CF times ("days
// since 2000-01-01"), and the cell bounds ("bounds", "climatology") that
// take their coordinate's units, are compared by encoding: units,
// calendar, dtype, fill value, packing, codecs. When all inputs agree the
// chunk references are kept. When any differs (per-file units such as
// "days since <file start>", another calendar name) or their chunks do not
// line up, every input's values are decoded in Go with the input's own
// units and calendar (standard/gregorian, proleptic_gregorian,
// noleap/365_day, all_leap/366_day, 360_day, julian; package
// internal/cftime) and re-encoded exactly in the first input's units,
// calendar, packing and dtype, written inline (zlib-compressed above 4
// KiB). A time that cannot be written exactly is an error, not a rounding.
//
// The combined concat coordinate is written without a fill value (CF
// coordinates have no missing values), so no real time can read as
// missing — kerchunk's MultiZarrToZarr writes fill value 0 and day 0
// becomes NaT. Other re-encoded arrays get no fill value either when
// nothing is missing, else NaN (floats) or a fill value no real value
// equals.
//
// # Summary
//
// Result carries the dimensions, the data variables, the time range of the
// concat coordinate (ISO 8601) and the spatial extent [west, south, east,
// north] read through the combined references with package refread:
// latitude/longitude coordinates found by standard_name, units, axis or
// name, 1-D or 2-D, their cell bounds when they have them; longitudes
// are reported in -180..180 (0..360 data converted, west > east across the
// antimeridian).
package combine
