#!/usr/bin/python3
"""Writes a netCDF-4 file with millions of one-element chunks, for the
memory benchmark of `vzarr ref` and `vzarr run` (issue 11, reproduction 4;
kerchunk.BenchmarkManyChunks, scripts/bench-refmem). Not committed: the file
is 50+ MB.

usage: gen_many_chunks.py OUT.nc [CHUNKS] [FIRST]

Dimension "time" of CHUNKS steps (default 5,000,000); coordinate "time"
(float64, contiguous, "minutes since 2000-01-01", FIRST + i, so that
files written with successive FIRST values combine along time);
variable "x" (int8, chunks of 1 element, every chunk written, values
i % 127): CHUNKS one-byte chunks in a v1 B-tree chunk index, as netCDF-C
writes them.
"""
import sys

import netCDF4
import numpy as np


def main():
    out = sys.argv[1]
    n = int(float(sys.argv[2])) if len(sys.argv) > 2 else 5_000_000
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    with netCDF4.Dataset(out, "w", format="NETCDF4") as ds:
        ds.title = "many one-byte chunks"
        ds.createDimension("time", n)
        t = ds.createVariable("time", "f8", ("time",), contiguous=True)
        t.units = "minutes since 2000-01-01"
        t.calendar = "standard"
        t[:] = np.arange(first, first + n, dtype="f8")
        x = ds.createVariable("x", "i1", ("time",), chunksizes=(1,))
        x.long_name = "value"
        step = 1 << 20
        for s in range(0, n, step):
            e = min(n, s + step)
            x[s:e] = (np.arange(s, e) % 127).astype("i1")


if __name__ == "__main__":
    main()
