#!/usr/bin/python3
"""Generate kerchunk/testdata/nc4_edge.nc with netCDF4-python (netCDF-C):
never-written chunks with and without _FillValue, compressed and not, ints
that must not be masked, variables shorter than their unlimited dimension,
strings (vlen, scalar, char arrays), nested groups using parent dimensions,
attributes with NaN, infinities, empty strings, unicode and 64-bit ints.

    /usr/bin/python3 kerchunk/testdata/gen_nc4_edge.py
"""
import os

import netCDF4
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(HERE, "nc4_edge.nc")
if os.path.exists(path):
    os.remove(path)
ds = netCDF4.Dataset(path, "w", format="NETCDF4")
ds.setncattr("title", "edge cases ✓")
ds.setncattr("empty", "")
ds.setncattr("nan", np.float64("nan"))
ds.setncattr("infs", np.array([np.inf, -np.inf, 1.5], "f4"))
ds.setncattr("big", np.int64(-(2 ** 62)))
ds.setncattr("ubig", np.uint64(2 ** 63 + 5))
ds.setncattr_string("strs", ["a", "", "ünï"])

ds.createDimension("time", None)
ds.createDimension("y", 40)
ds.createDimension("x", 30)
ds.createDimension("nchar", 6)
ds.createDimension("s", 5)

t = ds.createVariable("time", "f8", ("time",))
t[:] = np.arange(10)
t.units = "days since 2000-01-01"

# Partly written, default fill, compressed: never-written chunks written out.
a = ds.createVariable("zlib_nofill", "f4", ("y", "x"), zlib=True, chunksizes=(10, 10))
a[0:10, 0:10] = np.arange(100, dtype="f4").reshape(10, 10)
# Partly written, _FillValue: never-written chunks left out.
b = ds.createVariable("zlib_fill", "f4", ("y", "x"), zlib=True, chunksizes=(10, 10), fill_value=-1.0)
b[10:20, 10:30] = 3.5
# Partly written, uncompressed, ints without _FillValue: no mask, ints stay.
c = ds.createVariable("raw_int_nofill", "i4", ("y", "x"), chunksizes=(20, 15))
c[0:20, 0:15] = np.arange(300, dtype="i4").reshape(20, 15)
# Shuffle + zlib + fletcher32, big-endian, with _FillValue.
d = ds.createVariable("be_fletcher", "i2", ("y", "x"), zlib=True, shuffle=True, fletcher32=True,
                      endian="big", chunksizes=(8, 30), fill_value=np.int16(-999))
d[0:16, :] = (np.arange(16 * 30) % 700).astype("i2").reshape(16, 30)
# _Unsigned bytes.
e = ds.createVariable("ubyte_flag", "i1", ("y",), fill_value=np.int8(-1))
e._Unsigned = "true"
e[:] = (np.arange(40) * 7 % 256).astype("u1").view("i1")
# Shorter than the unlimited dimension (5 of 10 records).
s = ds.createVariable("short_series", "f4", ("time", "x"), chunksizes=(3, 30), zlib=True)
s[0:5, :] = 1.25
s2 = ds.createVariable("short_series_fill", "i2", ("time",), chunksizes=(4,), fill_value=np.int16(7))
s2[0:6] = np.arange(6, dtype="i2")
# Strings.
v = ds.createVariable("names", str, ("s",))
v[0] = "alpha"
v[2] = "γ"
sc = ds.createVariable("label", str, ())
sc[...] = "scalar ✓"
ch = ds.createVariable("chars", "S1", ("s", "nchar"))
ch[:] = netCDF4.stringtochar(np.array(["ab", "", "cdefgh", "x", "yz"], "S6"))
# Groups using parent dimensions, nested.
g = ds.createGroup("g1")
g.createDimension("z", 4)
gv = g.createVariable("gv", "f8", ("z", "x"), zlib=True)
gv[:] = np.arange(120).reshape(4, 30)
g2 = g.createGroup("g2")
g2.setncattr("empty_group_attr", "")
g2v = g2.createVariable("deep", "u2", ("z", "y"), chunksizes=(2, 20))
g2v[0:2, 0:20] = 9
ds.close()
