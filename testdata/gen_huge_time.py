#!/usr/bin/python3
"""Write a small netCDF-4 file whose unlimited `time` dimension declares N steps.

    /usr/bin/python3 testdata/gen_huge_time.py OUT.nc N [--units U] [--values]

Used by the limit tests (combine, pipeline, cmd/vzarr): `time` (float64,
chunks of 1024, CF units) and `tas(time, lat)` are created with netCDF4 and
four time values written, then both datasets are resized to N steps with
h5py, so the file declares N steps (2^40 is fine) while staying ~20 KB: no
chunk past the fourth step is ever written. With --values, every one of the
N time values is written (0, 1, 2, ...), for a legitimate long axis.
"""

import argparse

import h5py
import netCDF4
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("n", type=float)
ap.add_argument("--units", default="days since 2000-01-01")
ap.add_argument("--values", action="store_true")
args = ap.parse_args()
n = int(args.n)

ds = netCDF4.Dataset(args.out, "w", format="NETCDF4")
ds.createDimension("time", None)
ds.createDimension("lat", 2)
# With --values, the largest chunk length up to 2^16 that divides N, so
# that several such files combine by renumbering chunk keys.
chunk = 1024 if not args.values else next(d for d in range(min(max(n, 1), 1 << 16), 0, -1) if n % d == 0)
t = ds.createVariable("time", "f8", ("time",), chunksizes=(chunk,))
t.units = args.units
t.calendar = "standard"
lat = ds.createVariable("lat", "f4", ("lat",))
lat.units = "degrees_north"
lat[:] = [10.0, 20.0]
v = ds.createVariable("tas", "f4", ("time", "lat"), chunksizes=(chunk, 2))
if args.values:
    t[0:n] = np.arange(n, dtype="f8")
else:
    t[0:4] = np.arange(4, dtype="f8")
ds.close()

if not args.values and n != 4:
    with h5py.File(args.out, "r+") as f:
        f["time"].resize((n,))
        f["tas"].resize((n, 2))
