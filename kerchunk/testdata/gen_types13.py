#!/usr/bin/python3
"""Generate kerchunk/testdata fixtures for the issue 13 element types, with
h5py and netCDF4-python (Debian 12's python3-h5py, python3-netcdf4):

- h5_complex.h5: h5py's complex numbers (a compound of two floats named r
  and i): complex64 and complex128, little- and big-endian, chunked with
  zlib and contiguous, with and without a fill value, a scalar.
- nc4_strings_vlen.nc: netCDF-4 variable-length strings: a scalar (comment),
  a 1-d and a 2-d variable.
- nc3_packed_f4.nc: netCDF-3 int16 variables packed with float32
  scale_factor/add_offset (p32), float64 ones (p64) and only a float32
  scale_factor (s32): validate's packed_float32_attrs warning.

    /usr/bin/python3 kerchunk/testdata/gen_types13.py
"""
import os

import h5py
import netCDF4
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def complex_numbers():
    path = os.path.join(HERE, "h5_complex.h5")
    if os.path.exists(path):
        os.remove(path)
    re = np.linspace(-2.5, 3.25, 24).reshape(4, 6)
    im = np.arange(24).reshape(4, 6) * 0.5 - 3
    z = re + 1j * im
    with h5py.File(path, "w", track_order=True) as f:
        f.attrs["title"] = "complex numbers as h5py writes them"
        f.create_dataset("c8", data=z.astype("<c8"))
        f.create_dataset("c16", data=z.astype("<c16"))
        f.create_dataset("c8_be", data=z.astype(">c8"))
        f.create_dataset("c16_be_chunked", data=z.astype(">c16"), chunks=(2, 3), compression="gzip", shuffle=True)
        d = f.create_dataset("c8_fill", (4, 6), "<c8", chunks=(2, 3), compression="gzip",
                             fillvalue=np.complex64(1.5 - 2j))
        d[:2, :3] = z[:2, :3]  # three of four chunks never written: the fill
        f.create_dataset("c16_nan_fill", (5,), "<c16", chunks=(5,),
                         fillvalue=np.complex128(complex(np.nan, 0.25)))
        f.create_dataset("c16_scalar", data=np.complex128(3.5 - 0.125j))
        # Not h5py's convention (names, order): stays a structured dtype.
        f.create_dataset("not_complex", data=np.zeros(3, dtype=[("i", "<f4"), ("r", "<f4")]))


def strings_vlen():
    path = os.path.join(HERE, "nc4_strings_vlen.nc")
    if os.path.exists(path):
        os.remove(path)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.title = "netCDF-4 variable-length strings"
        ds.createDimension("n", 3)
        ds.createDimension("m", 2)
        c = ds.createVariable("comment", str, ())
        c[...] = np.array("a scalar vlen string, ünïcode", dtype=object)
        names = ds.createVariable("names", str, ("n",))
        names[:] = np.array(["alpha", "", "gamma delta"], dtype=object)
        grid = ds.createVariable("grid", str, ("n", "m"))
        grid[:] = np.array([["a", "bb"], ["ccc", "dddd"], ["é", "f"]], dtype=object)


def packed_netcdf3():
    path = os.path.join(HERE, "nc3_packed_f4.nc")
    if os.path.exists(path):
        os.remove(path)
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.createDimension("x", 4)
        raw = np.array([-3, 0, 7, 1000], dtype="i2")
        for name, ftype, offset in [("p32", "f4", True), ("p64", "f8", True), ("s32", "f4", False)]:
            v = ds.createVariable(name, "i2", ("x",))
            v.set_auto_maskandscale(False)
            v.scale_factor = np.dtype(ftype).type(0.1)
            if offset:
                v.add_offset = np.dtype(ftype).type(273.15)
            v[:] = raw


if __name__ == "__main__":
    complex_numbers()
    strings_vlen()
    packed_netcdf3()
