#!/usr/bin/python3
"""Generate kerchunk/testdata fixtures for HDF5 features beyond the basics,
with h5py and netCDF4-python (Debian 12's python3-h5py, python3-netcdf4):

- h5_external.h5: contiguous datasets stored in external raw files
  (H5Pset_external) under ext/: several segments of one file, segments in
  two files, a segment boundary inside a row, adjacent segments, a file in a
  subdirectory.
- h5_external_refused.hdf5 (not an interop input): external names that leave
  the file's directory ("../../etc/passwd", "/etc/passwd") and segments in two
  files that cut an element.
- h5_vds.h5: virtual datasets placing whole source datasets on their chunk
  grid (h5_vds_refused.hdf5: a mapping of part of a source, a source in
  another file).
- h5_regionref.h5: a dataset of region references next to ordinary data.
- nc4_unwritten_a.nc / nc4_unwritten_b.nc: the same zlib+shuffle variable
  (fixed dimensions), no chunk written in a, all written in b: a series
  combine must accept, a's values all fill.

External names are relative to the HDF5 file's directory: the script runs
with that directory as the working directory, where libhdf5 resolves them.

    /usr/bin/python3 kerchunk/testdata/gen_h5feat.py
"""
import json
import os

import h5py
import netCDF4
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def fresh(*names):
    for n in names:
        p = os.path.join(HERE, n)
        if os.path.exists(p):
            os.remove(p)


def external():
    fresh("h5_external.h5", "ext/a.bin", "ext/b.bin", "ext/sub/c.bin")
    os.makedirs(os.path.join(HERE, "ext", "sub"), exist_ok=True)
    with h5py.File("h5_external.h5", "w", track_order=True) as f:
        f.attrs["title"] = "external raw storage"
        # (6, 4) int32: three 2-row segments of one file, with gaps.
        d = f.create_dataset("one_file", (6, 4), "<i4",
                             external=[("ext/a.bin", 0, 32), ("ext/a.bin", 64, 32), ("ext/a.bin", 128, 32)])
        d[...] = np.arange(24, dtype="<i4").reshape(6, 4)
        # (4, 5) float64: two rows in each of two files.
        d = f.create_dataset("two_files", (4, 5), "<f8",
                             external=[("ext/a.bin", 200, 80), ("ext/b.bin", 0, 80)])
        d[...] = np.linspace(-1, 1, 20).reshape(4, 5)
        # (10,) int32: the boundary after 3 elements, inside no row.
        d = f.create_dataset("uneven", (10,), "<i4",
                             external=[("ext/b.bin", 100, 12), ("ext/a.bin", 400, 28)])
        d[...] = np.arange(100, 110, dtype="<i4")
        # (2, 3) int16: adjacent segments of one file (one piece), and a
        # last segment larger than the data.
        d = f.create_dataset("adjacent", (2, 3), "<i2",
                             external=[("ext/b.bin", 300, 4), ("ext/b.bin", 304, 100)])
        d[...] = np.array([[1, -2, 3], [-4, 5, -6]], "<i2")
        # A file in a subdirectory, one segment, with attributes.
        d = f.create_dataset("in_subdir", (3,), "<f4", external=[("ext/sub/c.bin", 16, 12)])
        d[...] = np.array([1.5, 2.5, -3.5], "<f4")
        d.attrs["units"] = "m"

    fresh("h5_external_refused.hdf5", "ext/cut1.bin", "ext/cut2.bin")
    with h5py.File("h5_external_refused.hdf5", "w", track_order=True) as f:
        f.create_dataset("ok", data=np.arange(3, dtype="<i4"))
        f.create_dataset("escape_rel", (4,), "<u1", external=[("../../etc/passwd", 0, 4)])
        f.create_dataset("escape_abs", (4,), "<u1", external=[("/etc/passwd", 0, 4)])
        d = f.create_dataset("cut", (3,), "<i4", external=[("ext/cut1.bin", 0, 6), ("ext/cut2.bin", 0, 6)])
        d[...] = np.array([7, 8, 9], "<i4")


def regionref():
    fresh("h5_regionref.h5")
    with h5py.File("h5_regionref.h5", "w", track_order=True) as f:
        g = f.create_dataset("grid", data=np.arange(20, dtype="<f4").reshape(4, 5))
        g.attrs["units"] = "K"
        rr = f.create_dataset("regions", (2,), dtype=h5py.regionref_dtype)
        rr[0] = g.regionref[1:3, 2:4]
        rr[1] = g.regionref[0, :]
        f.create_dataset("count", data=np.array([1, 2, 3], "<i2"))


def unwritten():
    series = os.path.join(HERE, "..", "..", "testdata", "series", "unwritten_chunks")
    os.makedirs(series, exist_ok=True)
    for name, write, dup in (("nc4_unwritten_a.nc", False, "a.nc"), ("nc4_unwritten_b.nc", True, "b.nc")):
        for path in (os.path.join(HERE, name), os.path.join(series, dup)):
            if os.path.exists(path):
                os.remove(path)
            ds = netCDF4.Dataset(path, "w", format="NETCDF4")
            ds.createDimension("time", 2)
            ds.createDimension("lat", 6)
            ds.createDimension("lon", 8)
            t = ds.createVariable("time", "f8", ("time",))
            t.units = "days since 2000-01-01"
            lat = ds.createVariable("lat", "f4", ("lat",))
            lat.units = "degrees_north"
            lat[:] = np.linspace(-50, 50, 6)
            lon = ds.createVariable("lon", "f4", ("lon",))
            lon.units = "degrees_east"
            lon[:] = np.linspace(0, 350, 8)
            v = ds.createVariable("precip", "f4", ("time", "lat", "lon"), zlib=True, complevel=4, shuffle=True,
                                  chunksizes=(1, 3, 4), fill_value=np.float32(-999.0))
            v.units = "mm"
            day = 0 if not write else 2
            t[0:2] = [day, day + 1]
            if write:
                v[0:2] = np.arange(2 * 6 * 8, dtype="f4").reshape(2, 6, 8) / 4
            ds.close()
    with open(os.path.join(series, "series.json"), "w") as f:
        json.dump({"name": "unwritten_chunks", "files": ["a.nc", "b.nc"], "concat_dim": "time", "expect": "ok",
                   "error_contains": [],
                   "notes": "a zlib+shuffle variable no chunk of which was written in a.nc (all fill), written in b.nc "
                            "(kerchunk/testdata/gen_h5feat.py)"}, f, indent=1)
        f.write("\n")


def odd_attrs():
    """Attributes of unusual types xarray shows: a byte array named like
    netCDF-C's bookkeeping (_NCPROPERTIES, as in a netCDF4-python test file),
    unsigned and 64-bit arrays, strings; then, written with h5py, a
    fixed-length string array and a byte array attribute."""
    name = "nc4_odd_attrs.nc"
    fresh(name)
    ds = netCDF4.Dataset(name, "w", format="NETCDF4")
    ds.setncattr("_NCPROPERTIES", np.frombuffer(b"version=2,netcdf=4.9.0\0", "i1"))
    ds.setncattr("_NCsomething", np.array([1, 2, 250], "u1"))
    ds.setncattr("big", np.array([-(2 ** 40), 2 ** 50], "i8"))
    ds.setncattr("ubig", np.array([2 ** 63 + 1], "u8"))
    ds.setncattr_string("strs", ["a", "bé"])
    ds.createDimension("x", 3)
    v = ds.createVariable("v", "i2", ("x",))
    v[:] = [1, 2, 3]
    v.setncattr("_NCPROPERTIES", np.array([104, 105, 0], "i1"))
    v.setncattr("flags", np.array([1, 2, 4], "u2"))
    ds.close()
    with h5py.File(name, "a") as f:
        f["v"].attrs["fixed_strs"] = np.array([b"ab", b"cde"], "S3")
        f["v"].attrs.create("bytes", np.frombuffer(b"\x01\x02\xff", "u1"))


def vds():
    """Virtual datasets whose mappings place whole source datasets of the
    same file ("."), chunked or contiguous, on their chunk grid; and, in
    h5_vds_refused.hdf5 (not an interop input), mappings that select part
    of a source, or a source in another file."""
    fresh("h5_vds.h5")
    with h5py.File("h5_vds.h5", "w", track_order=True) as f:
        src = f.create_group("src")
        a = src.create_dataset("a", data=np.arange(24, dtype="<f4").reshape(4, 6), chunks=(2, 3), compression="gzip")
        src.create_dataset("b", data=-np.arange(24, dtype="<f4").reshape(4, 6), chunks=(2, 3), compression="gzip")
        src.create_dataset("c", data=np.array([1.5, 2.5, 3.5]), chunks=None)
        src.create_dataset("d", data=np.array([4.5, 5.5, 6.5]), chunks=None)
        lay = h5py.VirtualLayout(shape=(8, 6), dtype="<f4")
        lay[0:4, :] = h5py.VirtualSource(".", "src/a", shape=(4, 6))
        lay[4:8, :] = h5py.VirtualSource(".", "src/b", shape=(4, 6))
        f.create_virtual_dataset("stack", lay, fillvalue=-1)
        lay = h5py.VirtualLayout(shape=(4, 14), dtype="<f4")
        lay[:, 0:6] = h5py.VirtualSource(".", "src/a", shape=(4, 6))
        lay[:, 6:12] = h5py.VirtualSource(".", "src/b", shape=(4, 6))
        f.create_virtual_dataset("tiles", lay, fillvalue=7)
        lay = h5py.VirtualLayout(shape=(7,), dtype="<f8")
        lay[0:3] = h5py.VirtualSource(".", "src/c", shape=(3,))
        lay[3:6] = h5py.VirtualSource(".", "src/d", shape=(3,))
        f.create_virtual_dataset("joined", lay, fillvalue=np.nan)
        del a

    # Sources in another file (h5_vds.h5), named relative to this one.
    fresh("h5_vds_files.h5")
    with h5py.File("h5_vds_files.h5", "w", track_order=True) as f:
        lay = h5py.VirtualLayout(shape=(4, 12), dtype="<f4")
        lay[:, 0:6] = h5py.VirtualSource("h5_vds.h5", "src/b", shape=(4, 6))
        lay[:, 6:12] = h5py.VirtualSource("h5_vds.h5", "src/a", shape=(4, 6))
        f.create_virtual_dataset("swapped", lay, fillvalue=0)

    fresh("h5_vds_refused.hdf5")
    with h5py.File("h5_vds_refused.hdf5", "w", track_order=True) as f:
        f.create_dataset("src", data=np.arange(10, dtype="<i4"), chunks=(5,))
        lay = h5py.VirtualLayout(shape=(4,), dtype="<i4")
        lay[0:4] = h5py.VirtualSource(".", "src", shape=(10,))[3:7]
        f.create_virtual_dataset("part", lay, fillvalue=0)
        lay = h5py.VirtualLayout(shape=(3,), dtype="<f4")
        lay[:] = h5py.VirtualSource("h5_external.h5", "in_subdir", shape=(3,))
        f.create_virtual_dataset("other_file", lay, fillvalue=0)


if __name__ == "__main__":
    os.chdir(HERE)
    external()
    regionref()
    unwritten()
    odd_attrs()
    vds()
