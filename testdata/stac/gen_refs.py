#!/usr/bin/env python3
"""Writes the hand-made kerchunk reference fixtures of the stac tests.

Standard library only: the coordinate chunks are packed with struct and
compressed with zlib by hand, so that every decoding path of
stac.FromReferences has a small, exact input:

  global_monthly.json     version 1; time inline raw <f8 (monthly, P1M);
                          lat inline zlib <f4 in two chunks (descending);
                          lon inline raw big-endian >f8 (global, 0.5..359.5);
                          a scalar auxiliary "height"; chunk URLs abfs://.
  regional_dateline.json  version 1 with templates; lon (170..200, crosses
                          the antimeridian) and lat (zlib) as byte ranges of
                          regional_coords.bin, named file://@TESTDATA@/...
                          (tests put the directory's path there); time <i4
                          with shuffle + zlib in the noleap calendar (PT6H);
                          pressure levels; |S8 member labels.
  point_v0.json           version 0 (no wrapper); one instant, one point;
                          Python's bare NaN in .zattrs.

Run from the repository root: python3 testdata/stac/gen_refs.py
"""
import base64
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(data):
    return "base64:" + base64.b64encode(data).decode()


def zarray(shape, chunks, dtype, compressor=None, filters=None, fill_value=None):
    return json.dumps({"chunks": chunks, "compressor": compressor, "dtype": dtype,
                       "fill_value": fill_value, "filters": filters, "order": "C",
                       "shape": shape, "zarr_format": 2}, separators=(",", ":"))


def attrs(**kw):
    return json.dumps(kw, separators=(",", ":"))


def shuffle(data, size):
    n = len(data) // size
    return bytes(data[i * size + b] for b in range(size) for i in range(n))


def write(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


def global_monthly():
    refs = {".zgroup": json.dumps({"zarr_format": 2}),
            ".zattrs": attrs(Conventions="CF-1.8", title="Global monthly near-surface air temperature (hand-made)",
                             summary="A hand-made reference set for the stac tests.")}
    month_starts = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335]  # 2000 is a leap year
    refs["time/.zarray"] = zarray([12], [12], "<f8")
    refs["time/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["time"], units="days since 2000-01-01", calendar="standard",
                                 standard_name="time", axis="T", bounds="time_bnds")
    refs["time/0"] = b64(struct.pack("<12d", *month_starts))
    refs["time_bnds/.zarray"] = zarray([12, 2], [12, 2], "<f8")
    refs["time_bnds/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["time", "bnds"])
    refs["time_bnds/0.0"] = ["{{u}}", 8000, 192]
    lats = [89.5 - i for i in range(180)]
    refs["lat/.zarray"] = zarray([180], [90], "<f4", compressor={"id": "zlib", "level": 4})
    refs["lat/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["lat"], units="degrees_north", standard_name="latitude",
                                long_name="latitude", axis="Y")
    for c in range(2):
        refs["lat/%d" % c] = b64(zlib.compress(struct.pack("<90f", *lats[c * 90:(c + 1) * 90]), 4))
    lons = [0.5 + i for i in range(360)]
    refs["lon/.zarray"] = zarray([360], [360], ">f8")
    refs["lon/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["lon"], units="degrees_east", standard_name="longitude",
                                long_name="longitude", axis="X")
    refs["lon/0"] = b64(struct.pack(">360d", *lons))
    refs["height/.zarray"] = zarray([], [], "<f8")
    refs["height/.zattrs"] = attrs(_ARRAY_DIMENSIONS=[], units="m", standard_name="height", long_name="height",
                                   positive="up", axis="Z")
    refs["height/0"] = b64(struct.pack("<d", 2.0))
    refs["tas/.zarray"] = zarray([12, 180, 360], [1, 90, 180], "<f4", compressor={"id": "zlib", "level": 1},
                                 fill_value="NaN")
    refs["tas/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["time", "lat", "lon"], units="K",
                                standard_name="air_temperature", long_name="Near-Surface Air Temperature",
                                coordinates="height", missing_value=1e20)
    off = 10000
    for t in range(12):
        for y in range(2):
            for x in range(2):
                refs["tas/%d.%d.%d" % (t, y, x)] = ["{{u}}", off, 50000]
                off += 50000
    write("global_monthly.json", {"version": 1, "templates": {"u": "abfs://cmip/raw/tas_2000.nc"}, "refs": refs})


def regional_dateline():
    lons = [170.0 + 0.5 * i for i in range(61)]      # 170 .. 200 (0..360 convention)
    lats = [10.0 + 0.25 * i for i in range(41)]      # 10 .. 20
    lon_raw = struct.pack("<61d", *lons)
    lat_z = zlib.compress(struct.pack("<41f", *lats), 6)
    with open(os.path.join(HERE, "regional_coords.bin"), "wb") as f:
        f.write(b"VZARR-STAC-FIXTURE\n")                # a header, so offsets are not 0
        lon_off = f.tell()
        f.write(lon_raw)
        lat_off = f.tell()
        f.write(lat_z)
    refs = {".zgroup": json.dumps({"zarr_format": 2}),
            ".zattrs": attrs(title="Regional 6-hourly precipitation across the dateline (hand-made)")}
    refs["lon/.zarray"] = zarray([61], [61], "<f8")
    refs["lon/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["lon"], units="degrees_east", standard_name="longitude")
    refs["lon/0"] = ["{{c}}", lon_off, len(lon_raw)]
    refs["lat/.zarray"] = zarray([41], [41], "<f4", compressor={"id": "zlib", "level": 6})
    refs["lat/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["lat"], units="degrees_north", standard_name="latitude")
    refs["lat/0"] = ["{{c}}", lat_off, len(lat_z)]
    hours = [6 * i for i in range(8)]
    start = 24 * 365 * 50  # 2000-01-01 in the noleap calendar, hours since 1950-01-01
    refs["time/.zarray"] = zarray([8], [8], "<i4", compressor={"id": "zlib", "level": 1},
                                  filters=[{"id": "shuffle", "elementsize": 4}])
    refs["time/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["time"], units="hours since 1950-01-01 00:00:00",
                                 calendar="noleap", standard_name="time")
    refs["time/0"] = b64(zlib.compress(shuffle(struct.pack("<8i", *[start + h for h in hours]), 4), 1))
    refs["plev/.zarray"] = zarray([3], [3], "<f8")
    refs["plev/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["plev"], units="Pa", positive="down",
                                 standard_name="air_pressure", long_name="pressure")
    refs["plev/0"] = b64(struct.pack("<3d", 100000.0, 85000.0, 50000.0))
    refs["member/.zarray"] = zarray([2], [2], "|S8")
    refs["member/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["member"], long_name="ensemble member")
    refs["member/0"] = b64(b"r1i1p1\x00\x00r2i1p1\x00\x00")
    refs["pr/.zarray"] = zarray([2, 8, 3, 41, 61], [1, 8, 3, 41, 61], "<f4", compressor={"id": "zlib", "level": 1},
                                fill_value=-9999.0)
    refs["pr/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["member", "time", "plev", "lat", "lon"], units="kg m-2 s-1",
                               long_name="Precipitation", _FillValue=-9999.0)
    refs["pr/0.0.0.0.0"] = ["{{u}}", 4096, 20000]
    refs["pr/1.0.0.0.0"] = ["{{u}}", 24096, 20000]
    write("regional_dateline.json", {"version": 1,
                                     "templates": {"u": "file://@TESTDATA@/pr.nc",
                                                   "c": "file://@TESTDATA@/regional_coords.bin"},
                                     "refs": refs})


def point_v0():
    refs = {".zgroup": json.dumps({"zarr_format": 2}),
            # Python's json writes NaN bare; stac reads it anyway.
            ".zattrs": '{"title":"One observation (hand-made)","valid_max":NaN}'}
    refs["time/.zarray"] = zarray([1], [1], "<i8")
    refs["time/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["time"], units="seconds since 1970-01-01T00:00:00Z")
    refs["time/0"] = b64(struct.pack("<q", 1704067200))  # 2024-01-01T00:00:00Z
    refs["lat/.zarray"] = zarray([1], [1], "<f8")
    refs["lat/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["lat"], units="degrees_north")
    refs["lat/0"] = b64(struct.pack("<d", 52.5))
    refs["lon/.zarray"] = zarray([1], [1], "<f8")
    refs["lon/.zattrs"] = attrs(_ARRAY_DIMENSIONS=["lon"], units="degrees_east")
    refs["lon/0"] = b64(struct.pack("<d", 13.25))
    refs["obs/.zarray"] = zarray([1, 1, 1], [1, 1, 1], "<i2", fill_value=-32768)
    refs["obs/.zattrs"] = '{"_ARRAY_DIMENSIONS":["time","lat","lon"],"units":"mm","scale_factor":0.1,"valid_min":NaN}'
    refs["obs/0.0.0"] = b64(struct.pack("<h", 42))
    write("point_v0.json", refs)


if __name__ == "__main__":
    global_monthly()
    regional_dateline()
    point_v0()
