#!/usr/bin/python3
"""Write the netCDF classic fixtures of the netcdf3 package and their truth.

Run from anywhere with Debian's python3-netcdf4 and numpy:

    /usr/bin/python3 testdata/gen_netcdf3.py

It writes testdata/netcdf3/<name>.nc with netCDF4-python (which links
netCDF-C), then, for each, <name>.truth.json as netCDF4-python and netCDF-C
read the file back: format, number of records, dimensions, global
attributes, and for every variable its dimensions, shape, type, NumPy dtype
(big-endian, as stored), attributes, netCDF-C's fill value and all of its
data (a flat list in C order; base64 of the bytes for char variables).

Attribute types, raw char bytes and fill values come from netCDF-C through
ctypes, because netCDF4-python removes NULs from char attributes and does not
report attribute types; the ctypes calls also write what netCDF4-python
cannot: a char attribute with no values, and one with embedded and trailing
NULs. The output is deterministic: running the script again rewrites the same
bytes.
"""

import base64
import ctypes
import ctypes.util
import json
import os

import netCDF4
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "netcdf3")

lib = ctypes.CDLL(ctypes.util.find_library("netcdf"))
NC_GLOBAL = -1
NC_WRITE = 1
NC_TYPES = {1: "byte", 2: "char", 3: "short", 4: "int", 5: "float",
            6: "double", 7: "ubyte", 8: "ushort", 9: "uint", 10: "int64",
            11: "uint64"}
NP_TYPES = {1: "i1", 2: "S1", 3: "i2", 4: "i4", 5: "f4", 6: "f8", 7: "u1",
            8: "u2", 9: "u4", 10: "i8", 11: "u8"}
FORMATS = {1: "NETCDF3_CLASSIC", 2: "NETCDF3_64BIT_OFFSET",
           5: "NETCDF3_64BIT_DATA"}


def check(status):
    if status != 0:
        raise RuntimeError(lib.nc_strerror(status))


def raw_text_attrs(path, attrs):
    """Add char attributes with exact bytes (netCDF4-python cannot)."""
    ncid = ctypes.c_int()
    check(lib.nc_open(path.encode(), NC_WRITE, ctypes.byref(ncid)))
    check(lib.nc_redef(ncid))
    for name, value in attrs:
        check(lib.nc_put_att_text(ncid, NC_GLOBAL, name.encode(),
                                  ctypes.c_size_t(len(value)), value))
    check(lib.nc_close(ncid))


def common_attrs(ds, cdf5=False):
    """Global attributes of every type, with edge values."""
    ds.title = "netcdf3 fixture " + os.path.basename(ds.filepath())
    ds.att_byte = np.array([-128, 0, 127], "i1")
    ds.att_short = np.array([-32768, 1, 32767], "i2")
    ds.att_int = np.array([-2147483648, 7, 2147483647], "i4")
    ds.att_float = np.array([1.5, -2.25, 3.4028235e38, 1e-45], "f4")
    ds.att_double = np.array([np.pi, -1e300, 5e-324], "f8")
    ds.att_scalar_int = np.int32(42)
    ds.att_empty_string = ""  # netCDF4-python writes one NUL byte
    ds.att_unicode = "Grüße, 世界 ✓"
    ds.setncattr("att_empty_int", np.array([], "i4"))
    if cdf5:
        ds.att_ubyte = np.array([0, 255], "u1")
        ds.att_ushort = np.array([0, 65535], "u2")
        ds.att_uint = np.array([0, 4294967295], "u4")
        ds.att_int64 = np.array([-9223372036854775808, 9223372036854775807], "i8")
        ds.att_uint64 = np.array([0, 18446744073709551615], "u8")


def classic(path, fmt="NETCDF3_CLASSIC"):
    """Fixed, scalar and several record variables of the classic types."""
    ds = netCDF4.Dataset(path, "w", format=fmt)
    ds.set_auto_maskandscale(False)
    common_attrs(ds)
    ds.createDimension("time", None)
    ds.createDimension("y", 3)
    ds.createDimension("x", 4)
    ds.createDimension("strlen", 5)

    x = ds.createVariable("x", "f8", ("x",))
    x.units = "m"
    x[:] = [0.5, 1.5, 2.5, 3.5]
    y = ds.createVariable("y", "f4", ("y",))
    y[:] = [-1.25, 0, 1.25]
    grid = ds.createVariable("grid", "i4", ("y", "x"), fill_value=-1)
    grid[0, :] = [1, 2, 3, 4]  # rows 1 and 2 stay at _FillValue
    sd = ds.createVariable("scalar_d", "f8", ())
    sd[...] = 2.718281828459045
    sc = ds.createVariable("scalar_c", "S1", ())
    sc[...] = b"Z"
    ds.createVariable("unwritten", "i2", ("x",))  # default fill
    label = ds.createVariable("label", "S1", ("strlen",))
    label[:] = netCDF4.stringtochar(np.array(["hello"], "S5"))[0]

    t = ds.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01"
    temp = ds.createVariable("temp", "f4", ("time", "y", "x"),
                             fill_value=np.float32(-9999.0))
    temp.missing_value = np.float32(-999.0)
    temp.long_name = "temperature"
    flag = ds.createVariable("flag", "i1", ("time",))
    flag._Unsigned = "true"
    names = ds.createVariable("names", "S1", ("time", "strlen"))
    counts = ds.createVariable("counts", "i2", ("time", "x"),
                               fill_value=np.int16(-99))
    counts.missing_value = np.int16(-98)

    t[:] = [0.0, 1.0, 2.0]
    temp[0] = np.arange(12, dtype="f4").reshape(3, 4)
    temp[2] = -np.arange(12, dtype="f4").reshape(3, 4) / 4  # record 1 filled
    flag[:] = np.array([-1, 0, 100], "i1")
    names[:] = netCDF4.stringtochar(np.array(["ab", "cdefg", ""], "S5"))
    counts[0:2] = np.array([[1, -2, 3, -4], [5, 6, 7, 8]], "i2")
    ds.close()
    raw_text_attrs(path, [("att_empty_text", b""),
                          ("att_nuls", b"a\x00b\x00\x00")])


def data64(path):
    """CDF-5: every type, fixed and record, with fill values."""
    ds = netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_DATA")
    ds.set_auto_maskandscale(False)
    common_attrs(ds, cdf5=True)
    ds.createDimension("t", None)
    ds.createDimension("k", 3)
    values = {
        "i1": [-128, 0, 127], "u1": [0, 1, 255],
        "i2": [-32768, 0, 32767], "u2": [0, 1, 65535],
        "i4": [-2147483648, 0, 2147483647], "u4": [0, 1, 4294967295],
        "i8": [-9223372036854775808, 0, 9223372036854775807],
        "u8": [0, 1, 18446744073709551615],
        "f4": [-1.5, 0.0, 3.4028235e38], "f8": [-1e300, 0.0, np.pi],
    }
    for code, vals in values.items():
        v = ds.createVariable("fixed_" + code, code, ("k",))
        v.att_same_type = np.array(vals[:2], code)
        v[:] = np.array(vals, code)
    ds.createVariable("fixed_unwritten_u8", "u8", ("k",))  # default fill
    ds.createVariable("fixed_unwritten_u2", "u2", ("k",))
    s = ds.createVariable("fixed_S1", "S1", ("k",))
    s[:] = np.array([b"a", b"b", b"c"])
    for code, vals in values.items():
        fill = np.array(vals[1:2], code)[0] + np.array(1, code)
        v = ds.createVariable("rec_" + code, code, ("t", "k"), fill_value=fill)
        v[0] = np.array(vals, code)  # record 1 stays at _FillValue
    ub = ds.createVariable("rec_ubyte_scalarish", "u1", ("t",))
    ub[:] = np.array([7, 9], "u1")
    ds.close()


def onerec(path, fmt, code, inner, nrec):
    """Exactly one record variable: records are not padded to 4 bytes."""
    ds = netCDF4.Dataset(path, "w", format=fmt)
    ds.set_auto_maskandscale(False)
    ds.comment = "exactly one record variable of type " + code
    ds.createDimension("time", None)
    dims = ("time",)
    if inner:
        ds.createDimension("n", inner)
        dims = ("time", "n")
        lat = ds.createVariable("lat", "f4", ("n",))
        lat[:] = np.linspace(-10, 10, inner).astype("f4")
    scalar = ds.createVariable("scalar", "i4", ())
    scalar[...] = 12345
    v = ds.createVariable("v", code, dims)
    shape = (nrec, inner) if inner else (nrec,)
    if code == "S1":
        letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz" * 4, "S1")
        v[:] = letters[:nrec * (inner or 1)].reshape(shape)
    else:
        v[:] = (np.arange(nrec * (inner or 1)) * 3 - 7).astype(code).reshape(shape)
    after = ds.createVariable("after", "f8", ("n",) if inner else ())
    after[...] = 1.0  # a fixed variable defined after the record one
    ds.close()


def multirec_pad(path):
    """Several record variables each smaller than 4 bytes per record."""
    ds = netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC")
    ds.set_auto_maskandscale(False)
    ds.createDimension("time", None)
    ds.createDimension("three", 3)
    a = ds.createVariable("a", "i1", ("time",))
    b = ds.createVariable("b", "i2", ("time",))
    c = ds.createVariable("c", "S1", ("time", "three"))
    d = ds.createVariable("d", "i2", ("time", "three"))
    a[:] = np.array([1, -2, 3, -4], "i1")
    b[:] = np.array([1000, -2000, 3000, -4000], "i2")
    c[:] = netCDF4.stringtochar(np.array(["abc", "de", "f", "ghi"], "S3"))
    d[:] = np.arange(12, dtype="i2").reshape(4, 3) - 6
    ds.close()


def norecs(path):
    """An unlimited dimension with zero records."""
    ds = netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_OFFSET")
    ds.set_auto_maskandscale(False)
    ds.createDimension("time", None)
    ds.createDimension("x", 2)
    x = ds.createVariable("x", "i4", ("x",))
    x[:] = [10, 20]
    ds.createVariable("time", "f8", ("time",))
    t = ds.createVariable("temp", "f4", ("time", "x"))
    t.units = "K"
    ds.close()


def unicode(path):
    """Dimension, variable and attribute names in UTF-8."""
    ds = netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_OFFSET")
    ds.set_auto_maskandscale(False)
    ds.createDimension("時間", None)
    ds.createDimension("température", 2)
    ds.createDimension("ñ", 3)
    ds.setncattr("rôle", "données météo")
    d = ds.createVariable("données", "f4", ("時間", "ñ"))
    d.setncattr("unités", "°C")
    d[:] = np.array([[1, 2, 3], [4, 5, 6]], "f4")
    dt = ds.createVariable("ΔT", "f8", ("température",))
    dt[:] = [0.25, -0.25]
    ds.close()


def empty(path):
    """No dimensions, attributes or variables: three ABSENT lists."""
    netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC").close()


def nulpad(path):
    """A classic file written byte by byte whose names carry trailing NUL
    padding inside their length, as some netCDF-C test files do: dimension
    and variable "yy", global attribute "plugh", variable attribute "units".
    netCDF-C strips the NULs."""
    import struct

    def name(s):
        b = s.encode()
        return struct.pack(">i", len(b)) + b + b"\0" * (-len(b) % 4)

    def char_attr(n, v):
        b = v.encode()
        return name(n) + struct.pack(">ii", 2, len(b)) + b + b"\0" * (-len(b) % 4)

    hdr = b"CDF\x01" + struct.pack(">i", 0)
    hdr += struct.pack(">ii", 0x0A, 1) + name("yy\0") + struct.pack(">i", 3)
    hdr += struct.pack(">ii", 0x0C, 2) + char_attr("plugh\0\0", "xyzzy") + char_attr("title", "NUL-padded names")
    vars_ = [("yy\0\0", 3, 8, [char_attr("units\0", "m")]), ("zz", 4, 12, [])]
    body = b""
    size = len(hdr) + 8
    for n, _, _, atts in vars_:
        size += len(name(n)) + 4 + 4 + 8 + sum(len(a) for a in atts) + 12
    begin = size
    for n, typ, vsize, atts in vars_:
        body += name(n) + struct.pack(">ii", 1, 0)
        body += struct.pack(">ii", 0x0C, len(atts)) if atts else struct.pack(">ii", 0, 0)
        body += b"".join(atts) + struct.pack(">iii", typ, vsize, begin)
        begin += vsize
    hdr += struct.pack(">ii", 0x0B, len(vars_)) + body
    assert len(hdr) == size, (len(hdr), size)
    data = struct.pack(">hhhh", 1, -2, 3, 0) + struct.pack(">iii", 10, 20, 30)
    with open(path, "wb") as f:
        f.write(hdr + data)


FIXTURES = {
    "classic": lambda p: classic(p),
    "offset64": lambda p: classic(p, "NETCDF3_64BIT_OFFSET"),
    "data64": data64,
    "onerec_short": lambda p: onerec(p, "NETCDF3_CLASSIC", "i2", 3, 5),
    "onerec_char": lambda p: onerec(p, "NETCDF3_64BIT_OFFSET", "S1", 5, 4),
    "onerec_byte": lambda p: onerec(p, "NETCDF3_64BIT_DATA", "u1", 0, 7),
    "multirec_pad": multirec_pad,
    "norecs": norecs,
    "unicode": unicode,
    "empty": empty,
    "nulpad": nulpad,
}


# ---- truth ----------------------------------------------------------------

def c_attrs(ncid, varid):
    """Name, netCDF type, length and raw bytes (char only) of each attribute."""
    natts = ctypes.c_int()
    check(lib.nc_inq_varnatts(ncid, varid, ctypes.byref(natts)))
    out = []
    for i in range(natts.value):
        name = ctypes.create_string_buffer(257)
        check(lib.nc_inq_attname(ncid, varid, i, name))
        xtype, n = ctypes.c_int(), ctypes.c_size_t()
        check(lib.nc_inq_att(ncid, varid, name.value, ctypes.byref(xtype),
                             ctypes.byref(n)))
        raw = None
        if xtype.value == 2:
            buf = ctypes.create_string_buffer(n.value + 1)
            check(lib.nc_get_att_text(ncid, varid, name.value, buf))
            raw = buf.raw[:n.value]
        out.append((name.value.decode(), xtype.value, n.value, raw))
    return out


def attrs_truth(obj, ncid, varid):
    result = []
    for name, xtype, n, raw in c_attrs(ncid, varid):
        a = {"name": name, "type": NC_TYPES[xtype], "len": n}
        value = obj.getncattr(name)
        if xtype == 2:
            a["raw_b64"] = base64.b64encode(raw).decode()
            # netCDF4-python returns bytes for _FillValue, str otherwise.
            a["python"] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        else:
            a["values"] = np.atleast_1d(value).tolist()
        result.append(a)
    return result


def fill_truth(ncid, varid, xtype):
    no_fill = ctypes.c_int()
    buf = ctypes.create_string_buffer(8)
    check(lib.nc_inq_var_fill(ncid, varid, ctypes.byref(no_fill), buf))
    size = np.dtype(NP_TYPES[xtype]).itemsize
    if xtype == 2:
        return base64.b64encode(buf.raw[:1]).decode()
    return np.frombuffer(buf.raw[:size], NP_TYPES[xtype])[0].item()


def truth(path):
    ds = netCDF4.Dataset(path)
    ds.set_auto_maskandscale(False)
    ds.set_auto_chartostring(False)
    ncid = ctypes.c_int()
    check(lib.nc_open(path.encode(), 0, ctypes.byref(ncid)))
    fmt = ctypes.c_int()
    check(lib.nc_inq_format_extended(ncid, ctypes.byref(fmt), None))
    with open(path, "rb") as f:
        version = f.read(4)[3]
    unlimited = [d for d in ds.dimensions.values() if d.isunlimited()]
    out = {
        "format": FORMATS[version],
        "data_model": ds.data_model,
        "numrecs": len(unlimited[0]) if unlimited else 0,
        "dims": [{"name": d.name, "len": len(d), "unlimited": d.isunlimited()}
                 for d in ds.dimensions.values()],
        "attrs": attrs_truth(ds, ncid.value, NC_GLOBAL),
        "vars": [],
    }
    for varid, v in enumerate(ds.variables.values()):
        xtype = ctypes.c_int()
        check(lib.nc_inq_vartype(ncid, varid, ctypes.byref(xtype)))
        v.set_auto_maskandscale(False)
        v.set_auto_chartostring(False)
        data = np.asarray(v[...])
        # Undo any _Unsigned view so that values are as stored.
        data = data.view(np.dtype(NP_TYPES[xtype.value])) if data.dtype.kind != "S" else data
        entry = {
            "name": v.name,
            "dims": list(v.dimensions),
            "shape": list(v.shape),
            "type": NC_TYPES[xtype.value],
            "dtype": np.dtype(NP_TYPES[xtype.value]).newbyteorder(">").str,
            "attrs": attrs_truth(v, ncid.value, varid),
            "fill_value": fill_truth(ncid.value, varid, xtype.value),
        }
        if xtype.value == 2:
            entry["data_b64"] = base64.b64encode(data.tobytes()).decode()
        else:
            entry["data"] = data.ravel().tolist()
        out["vars"].append(entry)
    check(lib.nc_close(ncid))
    ds.close()
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, make in FIXTURES.items():
        path = os.path.join(OUT, name + ".nc")
        if os.path.exists(path):
            os.remove(path)
        make(path)
        with open(os.path.join(OUT, name + ".truth.json"), "w") as f:
            json.dump(truth(path), f, indent=1, ensure_ascii=False, allow_nan=False)
            f.write("\n")
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
