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
- h5_compound_padded.h5: compounds with padding as PyTables, netCDF-4 and
  C compilers lay them out (aligned members, trailing padding, a padded
  compound nested in another, members out of offset order, chunked with
  gzip), and a compound member with array dimensions inside a padded
  compound (which Zarr can only hold packed: inlined).
- h5_nbit_float.h5: non-IEEE float layouts written through libhdf5's
  conversion from float32: bfloat16 (contiguous and chunked with gzip), a
  24-bit float, a 16-bit float with a 6-bit exponent; h5py reads them all
  as float32.
- h5_datetime64.h5: numpy datetime64/timedelta64 as h5py writes them (an
  opaque type tagged "NUMPY:<M8[ns]"), contiguous and chunked.
- h5_complex_fill.h5: complex numbers with a _FillValue attribute (as
  h5netcdf and netCDF-C write one) next to the HDF5 fill value;
  h5_complex_fill_imag.hdf5 (not an interop input): one whose imaginary
  part is not zero, which no _FillValue xarray reads can mask.

The fixtures of padded, nbit, datetime and complex_fill are byte-identical
from run to run (object timestamps off). Without arguments every fixture
is written; with names (complex, strings,
packed, padded, nbit, datetime, complex_fill) only those.

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


def fresh(name):
    path = os.path.join(HERE, name)
    if os.path.exists(path):
        os.remove(path)
    return path


def new_file(path):
    """An h5py file tracking creation order (as track_order=True), with no
    object timestamps, the root group's included: byte-identical output."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    flags = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED
    fcpl.set_link_creation_order(flags)
    fcpl.set_attr_creation_order(flags)
    fcpl.set_obj_track_times(False)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl))


def padded_compounds():
    path = fresh("h5_compound_padded.h5")
    table = np.dtype([("flag", "i1"), ("temp", "<f8"), ("name", "S3"), ("count", "<i2")], align=True)
    assert table.itemsize == 24 and table.fields["temp"][1] == 8
    inner = np.dtype({"names": ["x", "q"], "formats": ["<f4", "u1"], "offsets": [0, 4], "itemsize": 8})
    outer = np.dtype({"names": ["id", "where", "tail"], "formats": ["<u2", inner, ">i4"],
                      "offsets": [0, 4, 16], "itemsize": 24})
    swapped = np.dtype({"names": ["b", "a"], "formats": ["<i4", "<f4"], "offsets": [4, 0], "itemsize": 12})
    arr_in_pad = np.dtype({"names": ["k", "pts"], "formats": ["u1", (inner, (2,))], "offsets": [0, 4], "itemsize": 24})
    n = 10
    rows = np.zeros(n, table)
    rows["flag"] = np.arange(n) % 3 - 1
    rows["temp"] = np.linspace(250.5, 300.25, n)
    rows["name"] = [b"ab", b"cde", b"f", b"", b"xyz"] * 2
    rows["count"] = np.arange(n) * 100 - 300
    nest = np.zeros(4, outer)
    nest["id"] = [1, 2, 65535, 7]
    nest["where"]["x"] = [0.5, -1.25, 3e10, np.nan]
    nest["where"]["q"] = [0, 1, 255, 9]
    nest["tail"] = [-1, 2 ** 31 - 1, 0, 42]
    sw = np.zeros(5, swapped)
    sw["a"] = np.arange(5) * 0.5
    sw["b"] = -np.arange(5)
    ap = np.zeros(3, arr_in_pad)
    ap["k"] = [3, 4, 5]
    ap["pts"]["x"] = [[1, 2], [3, 4], [5, 6]]
    ap["pts"]["q"] = [[7, 8], [9, 10], [11, 12]]
    with new_file(path) as f:
        f.attrs["title"] = "compounds with padding"
        f.create_dataset("table", track_times=False, data=rows)
        f.create_dataset("table_chunked", track_times=False, data=np.tile(rows, 3), chunks=(8,), compression="gzip", shuffle=True)
        f.create_dataset("nested", track_times=False, data=nest)
        f.create_dataset("swapped", track_times=False, data=sw)
        d = f.create_dataset("table_fill", (6,), table, track_times=False, chunks=(3,), fillvalue=rows[1])
        d[:3] = rows[:3]  # the second chunk never written: the fill
        f.create_dataset("array_in_padding", track_times=False, data=ap)


def custom_float(size, spos, epos, esize, mpos, msize, bias, big=False):
    """A float type of libhdf5: IEEE-like, implied leading mantissa bit."""
    t = (h5py.h5t.IEEE_F32BE if big else h5py.h5t.IEEE_F32LE).copy()
    t.set_fields(spos, epos, esize, mpos, msize)
    t.set_offset(0)
    t.set_precision(size * 8)
    t.set_size(size)
    t.set_ebias(bias)
    return t


def nbit_floats():
    path = fresh("h5_nbit_float.h5")
    data = np.array([1.0, -2.5, 3.140625, 1e30, -1e-30, 0.0, -0.0, np.inf, -np.inf, np.nan,
                     65504.0, 1 / 3, 1e-40, 7.0e-39, 123.456], "f4")
    grid = np.linspace(-50, 50, 48, dtype="f4").reshape(6, 8)
    with new_file(path) as f:
        f.attrs["title"] = "non-IEEE float layouts"

        def put(name, t, values, chunks=None, gzip=False):
            space = h5py.h5s.create_simple(values.shape)
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_obj_track_times(False)
            if chunks:
                dcpl.set_chunk(chunks)
                if gzip:
                    dcpl.set_deflate(4)
            d = h5py.h5d.create(f.id, name.encode(), t, space, dcpl=dcpl)
            d.write(h5py.h5s.ALL, h5py.h5s.ALL, values)
            return f[name]

        put("bf16", custom_float(2, 15, 7, 8, 0, 7, 127), data).attrs["units"] = "1"
        put("bf16_chunked", custom_float(2, 15, 7, 8, 0, 7, 127), grid, chunks=(3, 4), gzip=True)
        put("bf16_be", custom_float(2, 15, 7, 8, 0, 7, 127, big=True), data)
        put("f24", custom_float(3, 23, 15, 8, 0, 15, 127), data)
        put("f16_e6m9", custom_float(2, 15, 9, 6, 0, 9, 31), data)


def datetime_opaque():
    path = fresh("h5_datetime64.h5")
    ns = np.array(["2020-01-01T00:00:00", "NaT", "1970-01-01T00:00:01.5", "1900-03-04T05:06:07.000000008"], "M8[ns]")
    days = np.arange("2021-01", "2021-03", dtype="M8[D]")
    with new_file(path) as f:
        f.attrs["title"] = "numpy datetime64 as h5py writes it: opaque, tagged NUMPY:<dtype>"
        f.create_dataset("time_ns", track_times=False, data=ns.astype(h5py.opaque_dtype(ns.dtype)))
        f.create_dataset("days", track_times=False, data=days.astype(h5py.opaque_dtype(days.dtype)), chunks=(16,), compression="gzip")
        sec = np.array([0, 86400, -1], "M8[s]")
        f.create_dataset("time_s", track_times=False, data=sec.astype(h5py.opaque_dtype(sec.dtype)))
        td = np.array([1500, -2, 0], "m8[ms]")
        f.create_dataset("elapsed", track_times=False, data=td.astype(h5py.opaque_dtype(td.dtype)))
        # An opaque type with another tag stays raw bytes.
        f.create_dataset("raw", track_times=False, data=np.frombuffer(b"abcdefgh", "V4"))


def complex_fill():
    """Fill values xarray can mask (imaginary part zero) in
    h5_complex_fill.h5; in h5_complex_fill_imag.hdf5 (not an interop
    input) one it cannot: the reference leaves that _FillValue out."""
    z = (np.arange(12) - 4.5 + 1j * np.linspace(-1, 1, 12)).reshape(3, 4)

    def write(path, specs):
        with new_file(path) as f:
            f.attrs["title"] = "complex numbers with a _FillValue attribute"
            for name, dt, fill in specs:
                d = f.create_dataset(name, (3, 4), dt, track_times=False, chunks=(1, 4), compression="gzip", fillvalue=fill)
                d[0] = z[0]
                d[2, :2] = fill  # written values equal to the fill: masked too
                d.attrs["_FillValue"] = np.array(fill, dt)
                d.attrs["long_name"] = name
            f.create_dataset("c8_nofill", track_times=False, data=z.astype("<c8"))

    write(fresh("h5_complex_fill.h5"), (("c8", "<c8", np.complex64(-999 + 0j)), ("c16", "<c16", np.complex128(1e20)),
                                        ("c16_be", ">c16", np.complex128(-1.5 - 0j))))
    write(fresh("h5_complex_fill_imag.hdf5"), (("c16_imag", "<c16", np.complex128(-1.5 + 2.5j)),))


GENERATORS = {
    "complex": complex_numbers,
    "strings": strings_vlen,
    "packed": packed_netcdf3,
    "padded": padded_compounds,
    "nbit": nbit_floats,
    "datetime": datetime_opaque,
    "complex_fill": complex_fill,
}

if __name__ == "__main__":
    import sys
    for name in sys.argv[1:] or GENERATORS:
        GENERATORS[name]()
