#!/usr/bin/python3
"""Write a daily archive of small netCDF-4 files for scripts/bench-archive.

    /usr/bin/python3 testdata/gen_archive.py OUT_DIR COUNT [START_DATE]

OUT_DIR/tas_day_YYYYMMDD.nc, one file per day from START_DATE (default
1999-01-01; 10,000 files cover 27 years): a (time=1, lat=18, lon=36)
float32 field, zlib, one chunk, with "time" in "days since 1850-01-01",
lat/lon coordinates with CF attributes and global attributes.

netCDF4 writes one template file; the others are its bytes with the time
value (a contiguous float64, whose file offset h5py reports) and the field
patched, so that 10,000 files take seconds. Every file's time differs, so
the archive combines along time. Files that exist with the right size are
kept.
"""

import datetime
import os
import struct
import sys
import tempfile

import h5py
import netCDF4
import numpy as np

EPOCH = datetime.datetime(1850, 1, 1)


def template(path):
    lat = np.arange(-85.0, 86.0, 10.0)  # 18
    lon = np.arange(-175.0, 176.0, 10.0)  # 36
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.title = "vzarr archive benchmark: daily near-surface air temperature"
        ds.Conventions = "CF-1.8"
        ds.createDimension("time", 1)
        ds.createDimension("lat", len(lat))
        ds.createDimension("lon", len(lon))
        t = ds.createVariable("time", "f8", ("time",), contiguous=True)
        t.units = "days since 1850-01-01"
        t.calendar = "standard"
        t.standard_name = "time"
        t.axis = "T"
        t[:] = [0.0]
        la = ds.createVariable("lat", "f4", ("lat",))
        la.units = "degrees_north"
        la.standard_name = "latitude"
        la[:] = lat
        lo = ds.createVariable("lon", "f4", ("lon",))
        lo.units = "degrees_east"
        lo.standard_name = "longitude"
        lo[:] = lon
        v = ds.createVariable("tas", "f4", ("time", "lat", "lon"), zlib=True, chunksizes=(1, len(lat), len(lon)))
        v.units = "K"
        v.standard_name = "air_temperature"
        v[0] = 280.0 + 20.0 * np.cos(np.radians(lat))[:, None] + 0.0 * lon[None, :]
    with h5py.File(path, "r") as f:
        return f["time"].id.get_offset()


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    start = datetime.datetime.fromisoformat(sys.argv[3]) if len(sys.argv) > 3 else datetime.datetime(1999, 1, 1)
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tpl = os.path.join(tmp, "template.nc")
        off = template(tpl)
        with open(tpl, "rb") as f:
            data = bytearray(f.read())
    assert struct.unpack_from("<d", data, off)[0] == 0.0
    for i in range(count):
        day = start + datetime.timedelta(days=i)
        path = os.path.join(out, day.strftime("tas_day_%Y%m%d.nc"))
        if os.path.exists(path) and os.path.getsize(path) == len(data):
            continue
        struct.pack_into("<d", data, off, float((day - EPOCH).days))
        tmpname = path + ".tmp"
        with open(tmpname, "wb") as f:
            f.write(data)
        os.replace(tmpname, path)


if __name__ == "__main__":
    main()
