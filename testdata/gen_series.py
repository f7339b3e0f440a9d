#!/usr/bin/python3
"""Write the file series of the combine tests: testdata/series/<name>/.

Run from anywhere with Debian's python3-netcdf4, python3-cftime and numpy:

    /usr/bin/python3 testdata/gen_series.py

Each series is a directory of small netCDF files written by netCDF4-python
(which links netCDF-C) that a user would want to read as one dataset
concatenated along "time", and a series.json manifest:

    {"name": ..., "files": [...], "concat_dim": "time",
     "expect": "ok" | "error", "error_contains": [...], "notes": ...}

"files", "concat_dim" and "name" are what shared/tools/check_refs.py
--combined --series reads; "expect" and "error_contains" are what the Go
tests of package combine assert (an error must name the file and the
variable and say why).

The series:

  same_units       3 x 10 days, int32 "days since 2000-01-01" (day 0 is a
                   real value), time_bnds, packed int16 data
                   (scale_factor/add_offset), float data with _FillValue and
                   missing values, lat/lon with bounds, 0..360 longitudes,
                   zlib+shuffle, time chunks of 5.
  per_file_units   3 files whose float64 time units differ ("days since"
                   the file start, "hours since" ...), time_bnds without
                   units (CF: they take the coordinate's), and another
                   time-valued variable along time with its own units.
  calendar_360     per-file units in the 360_day calendar.
  calendar_noleap  noleap calendar, per-file units, 2-D lat/lon (curvilinear
                   grid on x/y).
  uneven_last      10, 10 and 7 days with time chunks of 5: the last file's
                   partial chunk is legal Zarr.
  uneven_middle    10, 7, 10 days, chunks of 5, compressed: error.
  scale_mismatch   the second file packs with another scale_factor: error.
  leap_years       1999, 2000 (366 days), 2001 chunked by year, compressed:
                   error (the chunks cannot be split without copying data).
  leap_years_raw   the same years, uncompressed: combined exactly by
                   splitting each stored chunk into one-day byte ranges.
  netcdf3_records  netCDF-3 classic files with 31, 29 and 31 records (one
                   chunk per record).

It also writes series/cftime_truth.json: for every CF calendar, numbers in
several units decoded by cftime (ISO strings) and re-encoded in other units,
the reference for the Go CF-time code.

The output is deterministic: running the script again rewrites the same
bytes.
"""

import datetime
import json
import os
import shutil

import cftime
import netCDF4
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "series")

NLAT, NLON = 3, 4


def grid(ds, lon0=0.0, bounds=True):
    ds.createDimension("lat", NLAT)
    ds.createDimension("lon", NLON)
    ds.createDimension("nv", 2)
    lat = ds.createVariable("lat", "f8", ("lat",))
    lat.units = "degrees_north"
    lat.standard_name = "latitude"
    lat.axis = "Y"
    lat[:] = np.linspace(-30.0, 30.0, NLAT)
    lon = ds.createVariable("lon", "f8", ("lon",))
    lon.units = "degrees_east"
    lon.standard_name = "longitude"
    lon.axis = "X"
    lon[:] = lon0 + 90.0 * np.arange(NLON)
    if bounds:
        lat.bounds = "lat_bnds"
        lon.bounds = "lon_bnds"
        lb = ds.createVariable("lat_bnds", "f8", ("lat", "nv"))
        lb[:, 0] = lat[:] - 15.0
        lb[:, 1] = lat[:] + 15.0
        ob = ds.createVariable("lon_bnds", "f8", ("lon", "nv"))
        ob[:, 0] = lon[:] - 45.0
        ob[:, 1] = lon[:] + 45.0


def write_file(path, start, n, units, calendar="standard", tdtype="f8", chunk=5,
               scale=0.01, lon0=0.0, compress=True, step_hours=24.0, extra_time=False,
               curvilinear=False, contiguous=False, fmt="NETCDF4"):
    """One file of a daily (step_hours) series starting at the cftime date start."""
    ds = netCDF4.Dataset(path, "w", format=fmt)
    ds.setncattr("title", "vzarr combine test series")
    ds.setncattr("source", os.path.basename(path))
    if curvilinear:
        ds.createDimension("y", NLAT)
        ds.createDimension("x", NLON)
        ds.createDimension("nv", 2)
        yy, xx = np.meshgrid(np.arange(NLAT), np.arange(NLON), indexing="ij")
        lat = ds.createVariable("lat", "f8", ("y", "x"))
        lat.units = "degrees_north"
        lat.standard_name = "latitude"
        lat[:] = 50.0 + 2.0 * yy + 0.5 * xx
        lon = ds.createVariable("lon", "f8", ("y", "x"))
        lon.units = "degrees_east"
        lon.standard_name = "longitude"
        lon[:] = 170.0 + 5.0 * xx + 0.25 * yy  # crosses the antimeridian: 170..185.5
        spatial = ("y", "x")
    else:
        grid(ds, lon0=lon0, bounds=fmt == "NETCDF4")
        spatial = ("lat", "lon")
    kw = {}
    if fmt == "NETCDF4":
        kw = dict(zlib=compress, shuffle=compress, contiguous=contiguous)
        if not contiguous:
            kw["chunksizes"] = (chunk, NLAT, NLON)
    if fmt == "NETCDF4":
        ds.createDimension("time", n if contiguous else None)
        tkw = {"contiguous": True} if contiguous else {"chunksizes": (chunk,)}
        t = ds.createVariable("time", tdtype, ("time",), **tkw)
    else:
        ds.createDimension("time", None)
        if "nv" not in ds.dimensions:
            ds.createDimension("nv", 2)
        t = ds.createVariable("time", tdtype, ("time",))
    t.units = units
    t.calendar = calendar
    t.standard_name = "time"
    t.axis = "T"
    t.bounds = "time_bnds"
    bkw = {}
    if fmt == "NETCDF4":
        bkw = {"contiguous": True} if contiguous else {"chunksizes": (chunk, 2)}
    tb = ds.createVariable("time_bnds", tdtype, ("time", "nv"), **bkw)

    steps = [start + datetime.timedelta(hours=step_hours * i) for i in range(n)]
    vals = cftime.date2num(steps, units, calendar=calendar)
    lo = cftime.date2num([s - datetime.timedelta(hours=step_hours / 2) for s in steps], units, calendar=calendar)
    hi = cftime.date2num([s + datetime.timedelta(hours=step_hours / 2) for s in steps], units, calendar=calendar)
    t[:] = np.asarray(vals).astype(tdtype)
    tb[:, 0] = np.asarray(lo).astype(tdtype)
    tb[:, 1] = np.asarray(hi).astype(tdtype)

    # A float field with a _FillValue and some missing values.
    tas = ds.createVariable("tas", "f4", ("time",) + spatial, fill_value=np.float32(-9999.0), **kw)
    tas.units = "K"
    tas.long_name = "air temperature"
    if curvilinear:
        tas.coordinates = "lat lon"
    day0 = (steps[0] - cftime.datetime(1999, 1, 1, calendar=calendar)).days
    base = 270.0 + np.arange(n, dtype="f4")[:, None, None] + day0 + \
        np.arange(NLAT * NLON, dtype="f4").reshape(NLAT, NLON) / 10
    data = np.ma.masked_array(base.astype("f4"), mask=False)
    data[n // 2, 0, 0] = np.ma.masked
    tas[:] = data
    # A packed int16 field.
    pr = ds.createVariable("pr", "i2", ("time",) + spatial, fill_value=np.int16(-32767), **kw)
    pr.units = "mm/day"
    pr.scale_factor = np.float32(scale)
    pr.add_offset = np.float32(100.0)
    pr.set_auto_maskandscale(False)
    raw = (np.arange(n * NLAT * NLON, dtype="i4").reshape(n, NLAT, NLON) % 2000 - 1000 + day0).astype("i2")
    pr[:] = raw
    if extra_time:
        # A data variable along time holding times, in its own units.
        ft = ds.createVariable("forecast_issue", "f8", ("time",),
                               **({"chunksizes": (chunk,)} if fmt == "NETCDF4" and not contiguous else {}))
        fu = "minutes since " + str(steps[0] - datetime.timedelta(days=1))[:19]
        ft.units = fu
        ft.calendar = calendar
        ft[:] = cftime.date2num([s - datetime.timedelta(hours=6) for s in steps], fu, calendar=calendar)
    ds.close()


def series(name, files, expect="ok", error_contains=(), notes=""):
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    names = []
    for fname, kw in files:
        write_file(os.path.join(d, fname), **kw)
        names.append(fname)
    man = {"name": name, "files": names, "concat_dim": "time", "expect": expect,
           "error_contains": list(error_contains), "notes": notes}
    with open(os.path.join(d, "series.json"), "w") as fh:
        json.dump(man, fh, indent=1)
        fh.write("\n")


def D(y, m, d, h=0, cal="standard"):
    return cftime.datetime(y, m, d, h, calendar=cal)


def main():
    os.makedirs(OUT, exist_ok=True)
    U = "days since 2000-01-01"
    series("same_units", [
        ("tas_2000_01a.nc", dict(start=D(2000, 1, 1), n=10, units=U, tdtype="i4")),
        ("tas_2000_01b.nc", dict(start=D(2000, 1, 11), n=10, units=U, tdtype="i4")),
        ("tas_2000_01c.nc", dict(start=D(2000, 1, 21), n=10, units=U, tdtype="i4")),
    ], notes="time day 0 is real (kerchunk's fill value 0 reads it as NaT); 0..360 longitudes")

    series("per_file_units", [
        ("a.nc", dict(start=D(2000, 1, 1), n=10, units="days since 2000-01-01", extra_time=True)),
        ("b.nc", dict(start=D(2000, 1, 11), n=10, units="hours since 2000-01-11 00:00:00", extra_time=True)),
        ("c.nc", dict(start=D(2000, 1, 21), n=10, units="days since 2000-01-21T12:00:00Z", extra_time=True)),
    ], notes="per-file time units; time_bnds take the coordinate's units")

    series("calendar_360", [
        ("a.nc", dict(start=D(2001, 2, 21, cal="360_day"), n=10, units="days since 2001-02-21",
                      calendar="360_day")),
        ("b.nc", dict(start=D(2001, 3, 1, cal="360_day"), n=10, units="days since 2001-03-01",
                      calendar="360_day")),
    ], notes="360_day calendar, per-file units (February has 30 days)")

    series("calendar_noleap", [
        ("a.nc", dict(start=D(2003, 2, 24, cal="noleap"), n=5, units="days since 2003-02-24",
                      calendar="noleap", curvilinear=True)),
        ("b.nc", dict(start=D(2003, 3, 1, cal="noleap"), n=5, units="hours since 1990-01-01",
                      calendar="365_day", curvilinear=True)),
    ], notes="noleap/365_day, per-file units, 2-D lat/lon crossing the antimeridian")

    series("uneven_last", [
        ("a.nc", dict(start=D(2000, 1, 1), n=10, units=U)),
        ("b.nc", dict(start=D(2000, 1, 11), n=10, units=U)),
        ("c.nc", dict(start=D(2000, 1, 21), n=7, units=U)),
    ], notes="the last file ends with a partial chunk")

    series("uneven_middle", [
        ("a.nc", dict(start=D(2000, 1, 1), n=10, units=U)),
        ("b.nc", dict(start=D(2000, 1, 11), n=7, units=U)),
        ("c.nc", dict(start=D(2000, 1, 18), n=10, units=U)),
    ], expect="error", error_contains=["b.nc", "7", "chunk", "5"],
        notes="a partial chunk in the middle cannot be expressed in Zarr v2")

    series("scale_mismatch", [
        ("a.nc", dict(start=D(2000, 1, 1), n=10, units=U)),
        ("b.nc", dict(start=D(2000, 1, 11), n=10, units=U, scale=0.02)),
    ], expect="error", error_contains=["b.nc", "pr", "scale_factor"],
        notes="packing differs: concatenating would silently scale one file wrongly")

    years = [(1999, 365), (2000, 366), (2001, 365)]
    series("leap_years", [
        (f"tas_{y}.nc", dict(start=D(y, 1, 1), n=n, units="days since 1999-01-01", chunk=n))
        for y, n in years
    ], expect="error", error_contains=["tas_2000.nc", "366", "365", "chunk"],
        notes="chunked by year, compressed: the 366-day chunk cannot be split")

    series("leap_years_raw", [
        (f"tas_{y}.nc", dict(start=D(y, 1, 1), n=n, units=f"days since {y}-01-01", chunk=n,
                             compress=False))
        for y, n in years
    ], notes="chunked by year, uncompressed: combined by one-day byte ranges")

    series("netcdf3_records", [
        (f"m{i}.nc", dict(start=D(2001, m, 1), n=n, units=f"days since 2001-{m:02d}-01",
                          fmt="NETCDF3_CLASSIC"))
        for i, (m, n) in enumerate([(1, 31), (2, 28), (3, 31)])
    ], notes="netCDF-3 record variables: one chunk per record")

    cftime_truth()


def cftime_truth():
    """Decoding and re-encoding checks for every calendar, by cftime."""
    cases = []
    cals = ["standard", "gregorian", "proleptic_gregorian", "noleap", "365_day",
            "all_leap", "366_day", "360_day", "julian"]
    units = ["days since 2000-01-01", "hours since 1999-12-31 06:00:00",
             "minutes since 1900-03-01", "seconds since 1970-01-01T00:00:00Z",
             "days since 1582-10-01", "days since 0001-01-01"]
    nums = [0, 1, 59, 60, 365, 366, 1461, 36524.25, -1, -400.5, 146097, 150000]
    for cal in cals:
        for u in units:
            try:
                dates = cftime.num2date(nums, u, calendar=cal, only_use_cftime_datetimes=True)
            except Exception:
                continue
            iso = []
            for d in dates:
                iso.append("%04d-%02d-%02dT%02d:%02d:%02d.%06d" % (
                    d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond))
            back = {}
            for u2 in units:
                try:
                    v = cftime.date2num(dates, u2, calendar=cal)
                    back[u2] = [float(x) for x in v]
                except Exception:
                    pass
            cases.append({"calendar": cal, "units": u, "values": nums, "iso": iso, "encode": back})
    with open(os.path.join(OUT, "cftime_truth.json"), "w") as fh:
        json.dump({"cftime": cftime.__version__, "cases": cases}, fh, indent=0)
        fh.write("\n")


if __name__ == "__main__":
    main()
