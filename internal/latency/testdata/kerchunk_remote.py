#!/usr/bin/python3
"""Translate a netCDF-4 file with kerchunk, reading it over HTTP.

    /usr/bin/python3 kerchunk_remote.py URL SIZE

Used by internal/latency/cmd/vzarr-remotebench to measure kerchunk behind
the latency proxy without adlfs or aiohttp: h5py reads the file through a
file object whose every read is one HTTP range request (urllib), as
fsspec's HTTP file without a cache would make. Prints one JSON line:
{"wall_s": ..., "reads": ..., "bytes": ..., "refs": ...}.
"""

import io
import json
import sys
import time
import urllib.request

from kerchunk.hdf import SingleHdf5ToZarr


class RangeFile(io.RawIOBase):
    def __init__(self, url, size):
        self.url, self.size, self.pos = url, size, 0
        self.reads = self.bytes = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, off, whence=0):
        self.pos = {0: off, 1: self.pos + off, 2: self.size + off}[whence]
        return self.pos

    def readinto(self, b):
        n = min(len(b), self.size - self.pos)
        if n <= 0:
            return 0
        req = urllib.request.Request(self.url, headers={"Range": "bytes=%d-%d" % (self.pos, self.pos + n - 1)})
        with urllib.request.urlopen(req) as r:
            data = r.read()
        b[: len(data)] = data
        self.pos += len(data)
        self.reads += 1
        self.bytes += len(data)
        return len(data)


url, size = sys.argv[1], int(sys.argv[2])
f = RangeFile(url, size)
t0 = time.perf_counter()
refs = SingleHdf5ToZarr(f, url=url).translate()
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "reads": f.reads, "bytes": f.bytes, "refs": len(refs.get("refs", {}))}))
