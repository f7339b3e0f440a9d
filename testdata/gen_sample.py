#!/usr/bin/python3
"""Write the sample dataset of the README's main job: testdata/sample/.

Run with Debian's python3-netcdf4 and numpy:

    /usr/bin/python3 testdata/gen_sample.py                 # testdata/sample/
    /usr/bin/python3 testdata/gen_sample.py --out DIR --count 50 --start-year 1971

A series of netCDF-4 files, one per year, as a climate archive publishes
them: tas_<year>.nc with 12 monthly steps of near-surface air temperature
on a 20-degree global grid (9 x 18), float32, zlib + shuffle, chunked
(6, 9, 18) so that every file is a whole number of time chunks; a
"time" coordinate in "days since 1850-01-01" (standard calendar) with
time_bnds, lat/lon coordinates with CF attributes, and global attributes
(title, summary, Conventions). Each file is a few KB.

The values are a smooth function of time, latitude and longitude, so the
same arguments always give the same bytes (netCDF-C writes no times).
The pipeline's end-to-end tests call this script to make larger series
in a temporary folder.
"""

import argparse
import datetime
import os

import netCDF4
import numpy as np

EPOCH = datetime.datetime(1850, 1, 1)
UNITS = "days since 1850-01-01"


def days(d):
    return (d - EPOCH).days


def write_year(path, year):
    lat = np.arange(-80.0, 81.0, 20.0)  # 9 cell centres
    lon = np.arange(-170.0, 171.0, 20.0)  # 18 cell centres
    starts = [datetime.datetime(year, m, 1) for m in range(1, 13)]
    ends = starts[1:] + [datetime.datetime(year + 1, 1, 1)]
    time = np.array([days(s) + (days(e) - days(s)) / 2.0 for s, e in zip(starts, ends)])
    bnds = np.array([[days(s), days(e)] for s, e in zip(starts, ends)], dtype="f8")

    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.title = "vzarr sample: monthly near-surface air temperature"
        ds.summary = "A synthetic series for the vzarr pipeline's examples and tests."
        ds.Conventions = "CF-1.8"
        ds.createDimension("time", None)
        ds.createDimension("lat", len(lat))
        ds.createDimension("lon", len(lon))
        ds.createDimension("bnds", 2)

        t = ds.createVariable("time", "f8", ("time",), chunksizes=(12,))
        t.units = UNITS
        t.calendar = "standard"
        t.standard_name = "time"
        t.axis = "T"
        t.bounds = "time_bnds"
        t[:] = time
        tb = ds.createVariable("time_bnds", "f8", ("time", "bnds"), chunksizes=(12, 2))
        tb[:] = bnds

        y = ds.createVariable("lat", "f4", ("lat",))
        y.units = "degrees_north"
        y.standard_name = "latitude"
        y.axis = "Y"
        y[:] = lat
        x = ds.createVariable("lon", "f4", ("lon",))
        x.units = "degrees_east"
        x.standard_name = "longitude"
        x.axis = "X"
        x[:] = lon

        v = ds.createVariable("tas", "f4", ("time", "lat", "lon"), zlib=True, complevel=4, shuffle=True,
                              chunksizes=(6, len(lat), len(lon)), fill_value=np.float32(1e20))
        v.units = "K"
        v.standard_name = "air_temperature"
        v.long_name = "Near-Surface Air Temperature"
        month = np.arange(12)[:, None, None]
        la = np.deg2rad(lat)[None, :, None]
        lo = np.deg2rad(lon)[None, None, :]
        trend = 0.02 * (year - 1850)
        season = 8.0 * np.sin(2 * np.pi * (month - 3) / 12.0) * np.sin(la)
        field = 288.0 - 30.0 * np.sin(la) ** 2 + season + 1.5 * np.cos(3 * lo) * np.cos(la) + trend
        v[:] = np.round(field, 2).astype("f4")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "sample"), help="output folder")
    ap.add_argument("--count", type=int, default=6, help="number of yearly files")
    ap.add_argument("--start-year", type=int, default=2015, help="first year")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for year in range(args.start_year, args.start_year + args.count):
        write_year(os.path.join(args.out, "tas_%d.nc" % year), year)
    print("wrote %d files to %s" % (args.count, args.out))


if __name__ == "__main__":
    main()
