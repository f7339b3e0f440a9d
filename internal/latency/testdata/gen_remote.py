#!/usr/bin/python3
"""Write the netCDF-4 files of the remote-latency benchmark (issue 15).

    /usr/bin/python3 gen_remote.py hourly OUT.nc [--steps 8760] [--reopen 1] [--noise 1.0]
    /usr/bin/python3 gen_remote.py small OUT.nc

hourly: the appended hourly file. Three float32 variables (t2m, u10, v10)
on (time, lat=91, lon=180), chunks (1, 91, 180), zlib level 4, time
unlimited; one step is appended at a time, the file closed and reopened
every --reopen steps, as an operational file grown hour by hour. The
chunk B-tree leaves (version 1 B-trees, as netCDF-C writes them) are then
allocated one after another among the chunks, scattered through the file.
With the defaults (8,760 steps, one year) the file is about 1.1 GB; the
metadata graph does not depend on --noise, which only sets how well the
data compresses (0 gives tiny chunks: a small file with the same nodes,
closer together).

small: a typical small netCDF-4 file (one day of three variables on a
0.5 degree grid, zlib, CF attributes), whose metadata sits in its first
kilobytes.

The data are deterministic (a fixed seed).
"""

import argparse

import netCDF4
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("kind", choices=["hourly", "small"])
ap.add_argument("out")
ap.add_argument("--steps", type=int, default=8760)
ap.add_argument("--reopen", type=int, default=1)
ap.add_argument("--noise", type=float, default=1.0)
args = ap.parse_args()
rng = np.random.default_rng(15)

VARS = [("t2m", "K", "air_temperature", 280.0, 15.0),
        ("u10", "m s-1", "eastward_wind", 0.0, 8.0),
        ("v10", "m s-1", "northward_wind", 0.0, 8.0)]


def grid(nlat, nlon):
    lat = np.linspace(-90, 90, nlat, dtype="f4")
    lon = np.linspace(0, 360, nlon, endpoint=False, dtype="f4")
    return lat, lon


def field(base, scale, lat, lon, step):
    """A smooth field that moves with step, plus rounded noise."""
    la, lo = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    f = base + scale * np.cos(la) * np.sin(lo + step * 2 * np.pi / 24)
    if args.noise > 0:
        f = f + rng.normal(0, args.noise, f.shape)
    return np.round(f, 2).astype("f4")


def header(ds, nlat, nlon, nt, units):
    ds.Conventions = "CF-1.8"
    ds.title = "vzarr remote latency benchmark"
    ds.institution = "greensight"
    ds.createDimension("time", nt)
    ds.createDimension("lat", nlat)
    ds.createDimension("lon", nlon)
    t = ds.createVariable("time", "f8", ("time",))
    t.units = units
    t.calendar = "standard"
    t.standard_name = "time"
    la = ds.createVariable("lat", "f4", ("lat",))
    la.units = "degrees_north"
    la.standard_name = "latitude"
    lo = ds.createVariable("lon", "f4", ("lon",))
    lo.units = "degrees_east"
    lo.standard_name = "longitude"
    lat, lon = grid(nlat, nlon)
    la[:] = lat
    lo[:] = lon
    return lat, lon


if args.kind == "hourly":
    nlat, nlon = 91, 180
    with netCDF4.Dataset(args.out, "w", format="NETCDF4") as ds:
        lat, lon = header(ds, nlat, nlon, None, "hours since 2020-01-01 00:00:00")
        for name, units, std, _, _ in VARS:
            v = ds.createVariable(name, "f4", ("time", "lat", "lon"), chunksizes=(1, nlat, nlon),
                                  zlib=True, complevel=4, fill_value=np.float32(1e20))
            v.units = units
            v.standard_name = std
    ds = None
    for step in range(args.steps):
        if ds is None:
            ds = netCDF4.Dataset(args.out, "a")
        ds["time"][step] = float(step)
        for name, _, _, base, scale in VARS:
            ds[name][step, :, :] = field(base, scale, lat, lon, step)
        if (step + 1) % args.reopen == 0:
            ds.close()
            ds = None
    if ds is not None:
        ds.close()
else:
    nlat, nlon = 361, 720
    with netCDF4.Dataset(args.out, "w", format="NETCDF4") as ds:
        lat, lon = header(ds, nlat, nlon, None, "days since 2020-01-01")
        ds["time"][0] = 0.0
        for name, units, std, base, scale in VARS:
            v = ds.createVariable(name, "f4", ("time", "lat", "lon"), chunksizes=(1, 181, 360),
                                  zlib=True, complevel=4, fill_value=np.float32(1e20))
            v.units = units
            v.standard_name = std
            v.long_name = std.replace("_", " ")
            v[0, :, :] = field(base, scale, lat, lon, 0)
