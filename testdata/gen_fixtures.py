#!/usr/bin/python3
"""Generate the HDF5 / netCDF-4 test fixtures in testdata/hdf5/ and their truth files.

Run with Debian's Python (python3-h5py, python3-netcdf4, python3-numpy):

    /usr/bin/python3 testdata/gen_fixtures.py

Every fixture gets a `<file>.truth.json` written from h5py / netCDF4-python (libhdf5
itself), independent of the Go code, so Go tests can assert without cgo. The big
fixtures are committed gzip-compressed (`<name>.h5.gz`); their truth file
(`<name>.h5.truth.json`) describes the decompressed file. testdata/README.md
documents the fixtures and the truth-file format.

Everything is deterministic: fixed data, fixed seeds, object timestamps turned off,
gzip members written with mtime 0 and no file name.
"""

import base64
import ctypes
import ctypes.util
import gzip
import hashlib
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile
import time

import numpy as np
import h5py
import netCDF4
from h5py import h5a, h5d, h5ds, h5f, h5g, h5i, h5o, h5p, h5r, h5s, h5t, h5z

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hdf5")

UNDEF = 0xFFFFFFFFFFFFFFFF

# --------------------------------------------------------------------------------------
# libhdf5 through ctypes, for the few property-list calls h5py does not wrap
# (istore_k, sym_k, shared object header messages, nbit, committing a datatype with
# timestamps turned off). This is the very library h5py is linked against (same
# process, same handles), so h5py identifiers can be passed straight through.
# --------------------------------------------------------------------------------------


def _load_libhdf5():
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if re.search(r"/libhdf5(_serial)?\.so", path):
                return ctypes.CDLL(path)
    name = ctypes.util.find_library("hdf5_serial") or ctypes.util.find_library("hdf5")
    if not name:
        sys.exit("cannot find the libhdf5 shared library h5py uses")
    return ctypes.CDLL(name)


LIB = _load_libhdf5()
_hid = ctypes.c_int64
_u = ctypes.c_uint
for _fn, _args in {
    "H5Pset_istore_k": [_hid, _u],
    "H5Pset_sym_k": [_hid, _u, _u],
    "H5Pset_shared_mesg_nindexes": [_hid, _u],
    "H5Pset_shared_mesg_index": [_hid, _u, _u, _u],
    "H5Pset_shared_mesg_phase_change": [_hid, _u, _u],
    "H5Pset_nbit": [_hid],
    "H5Pset_obj_track_times": [_hid, ctypes.c_bool],
    "H5Pcreate": [_hid],
    "H5Pclose": [_hid],
    "H5Tcommit2": [_hid, ctypes.c_char_p, _hid, _hid, _hid, _hid],
}.items():
    getattr(LIB, _fn).argtypes = _args
    getattr(LIB, _fn).restype = _hid if _fn == "H5Pcreate" else ctypes.c_int


def _check(rc, what):
    if rc < 0:
        raise RuntimeError("libhdf5 call failed: " + what)
    return rc


# H5O_SHMESG_*_FLAG
SHMESG_SDSPACE, SHMESG_DTYPE, SHMESG_FILL, SHMESG_PLINE, SHMESG_ATTR = 0x02, 0x08, 0x20, 0x40, 0x80

LIBVER = {"earliest": h5f.LIBVER_EARLIEST, "v108": h5f.LIBVER_V18, "v110": h5f.LIBVER_V110,
          "latest": h5f.LIBVER_LATEST}

# --------------------------------------------------------------------------------------
# Creation helpers: every object is created with timestamps off so files are
# byte-identical from run to run.
# --------------------------------------------------------------------------------------


def new_file(path, libver=("earliest", "latest"), userblock=0, istore_k=None, sym_k=None,
             sohm=None, sohm_phase=None, sizes=None):
    """Create an HDF5 file with h5py's low-level API; returns an h5py.File."""
    fcpl = h5p.create(h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)  # the root group
    if userblock:
        fcpl.set_userblock(userblock)
    if sizes is not None:
        fcpl.set_sizes(*sizes)  # (sizeof_addr, sizeof_size)
    if istore_k is not None:
        _check(LIB.H5Pset_istore_k(fcpl.id, istore_k), "H5Pset_istore_k")
    if sym_k is not None:
        _check(LIB.H5Pset_sym_k(fcpl.id, *sym_k), "H5Pset_sym_k")
    if sohm is not None:
        _check(LIB.H5Pset_shared_mesg_nindexes(fcpl.id, len(sohm)), "H5Pset_shared_mesg_nindexes")
        for i, (flags, minsize) in enumerate(sohm):
            _check(LIB.H5Pset_shared_mesg_index(fcpl.id, i, flags, minsize), "H5Pset_shared_mesg_index")
        if sohm_phase is not None:
            _check(LIB.H5Pset_shared_mesg_phase_change(fcpl.id, *sohm_phase), "phase_change")
    fapl = h5p.create(h5p.FILE_ACCESS)
    fapl.set_libver_bounds(LIBVER[libver[0]], LIBVER[libver[1]])
    fapl.set_fclose_degree(h5f.CLOSE_STRONG)
    fid = h5f.create(path.encode(), h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    return h5py.File(fid)


def mkgroup(parent, name, track_order=False, phase=None):
    gcpl = h5p.create(h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    if track_order:
        gcpl.set_link_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
        gcpl.set_attr_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
    if phase is not None:
        gcpl.set_attr_phase_change(*phase)
    gid = h5g.create(parent.id, name.encode(), gcpl=gcpl)
    return h5py.Group(gid)


def commit_type(group, name, dtype_or_tid):
    """Commit a named datatype with timestamps off (h5py's own commit leaves them on)."""
    tid = dtype_or_tid if isinstance(dtype_or_tid, h5t.TypeID) else h5t.py_create(dtype_or_tid, logical=True)
    tid = tid.copy()
    cls = ctypes.c_int64.in_dll(LIB, "H5P_CLS_DATATYPE_CREATE_ID_g").value
    tcpl = _check(LIB.H5Pcreate(cls), "H5Pcreate")
    try:
        _check(LIB.H5Pset_obj_track_times(tcpl, False), "H5Pset_obj_track_times")
        _check(LIB.H5Tcommit2(group.id.id, name.encode(), tid.id, 0, tcpl, 0), "H5Tcommit2")
    finally:
        LIB.H5Pclose(tcpl)
    return group[name]


def dcpl_new(layout=None, chunks=None, alloc=None, fill_time=None, phase=None, nbit=False,
             track_order=False):
    dcpl = h5p.create(h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    if layout is not None:
        dcpl.set_layout(layout)
    if chunks is not None:
        dcpl.set_chunk(tuple(chunks))
    if alloc is not None:
        dcpl.set_alloc_time(alloc)
    if fill_time is not None:
        dcpl.set_fill_time(fill_time)
    if phase is not None:
        dcpl.set_attr_phase_change(*phase)
    if track_order:
        dcpl.set_attr_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
    if nbit:
        _check(LIB.H5Pset_nbit(dcpl.id), "H5Pset_nbit")
    return dcpl


def ll_dataset(group, name, tid, shape, maxshape=None, dcpl=None):
    """Create a dataset from an explicit file datatype (low level); returns h5py.Dataset."""
    if shape is None:
        space = h5s.create(h5s.SCALAR)
    else:
        space = h5s.create_simple(tuple(shape), None if maxshape is None else
                                  tuple(h5s.UNLIMITED if m is None else m for m in maxshape))
    if dcpl is None:
        dcpl = dcpl_new()
    did = h5d.create(group.id, name.encode(), tid, space, dcpl=dcpl)
    return h5py.Dataset(did)


def str_type(size, pad, cset=h5t.CSET_ASCII):
    tid = h5t.C_S1.copy()
    tid.set_size(size)
    tid.set_strpad(pad)
    tid.set_cset(cset)
    return tid


def write_ll(dset, arr, mtype):
    """Write a whole dataset with an explicit memory type (opaque, nbit...)."""
    arr = np.ascontiguousarray(arr)
    dset.id.write(h5s.ALL, h5s.ALL, arr, mtype=mtype)


def rng(seed):
    return np.random.default_rng(seed)


def field2d(ny, nx, seed, dtype="f4"):
    """A smooth field plus a little seeded noise (compressible, but not trivially)."""
    y, x = np.mgrid[0:ny, 0:nx]
    base = 10 * np.sin(y / 7.0) * np.cos(x / 11.0) + 0.05 * y
    return (base + 0.01 * rng(seed).standard_normal((ny, nx))).astype(dtype)


# --------------------------------------------------------------------------------------
# Datatype zoo
# --------------------------------------------------------------------------------------

NUMERIC = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"]
BIG_ENDIAN = [">i2", ">i4", ">i8", ">u2", ">u4", ">u8", ">f4", ">f8"]

POS_T = np.dtype([("x", "<f8"), ("y", "<f8")])
NESTED_T = np.dtype([("id", "<i4"), ("pos", POS_T), ("name", "S6"), ("arr", "<i2", (3,)),
                     ("big", ">i8"), ("flag", "u1")])
ENUM_T = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="i1")
ENUM16_T = h5py.enum_dtype({"LOW": 1000, "HIGH": 60000}, basetype="u2")
ARRAY_T = np.dtype(("<i4", (3,)))
ARRAY2D_T = np.dtype(("<f4", (2, 2)))
VLEN_I4 = h5py.vlen_dtype(np.dtype("<i4"))
VLEN_F8 = h5py.vlen_dtype(np.dtype("<f8"))
VSTR_ASCII = h5py.string_dtype("ascii")
VSTR_UTF8 = h5py.string_dtype("utf-8")
CMP_VLEN_T = np.dtype([("k", "<i4"), ("s", VSTR_UTF8), ("v", VLEN_I4)])
CMP_ARRAY_T = np.dtype([("t", "<f8"), ("a", "<i4", (3,)), ("m", "<f4", (2, 2))])


def numeric_values(code):
    dt = np.dtype(code)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return np.array([info.min, 0, 1, 100, info.max], dtype=dt)
    return np.array([-1.5, 0.0, 1.1, float(np.finfo(dt).max), -float(np.finfo(dt).tiny)], dtype=dt)


def nested_values():
    a = np.zeros(3, NESTED_T)
    for i in range(3):
        a[i] = (i + 1, (i * 1.5, -i * 2.25), ("n%d" % i).encode(), (i, i + 1, i + 2),
                -(10 ** 12) * (i + 1), i % 2)
    return a


def opaque_type(size, tag):
    tid = h5t.create(h5t.OPAQUE, size)
    tid.set_tag(tag)
    return tid


def write_opaque(group, name, tag, shape_vals):
    """Opaque dataset with a tag; raw bytes written with the same opaque memory type."""
    tid = opaque_type(7, tag)
    arr = np.array(shape_vals, dtype="V7")
    ds = ll_dataset(group, name, tid, arr.shape)
    write_ll(ds, arr, tid)
    return ds


class _HVL(ctypes.Structure):
    _fields_ = [("len", ctypes.c_size_t), ("p", ctypes.c_void_p)]


class _CmpVlen(ctypes.Structure):
    _fields_ = [("k", ctypes.c_int32), ("s", ctypes.c_char_p), ("v", _HVL)]


LIB.H5Awrite.argtypes = [_hid, _hid, ctypes.c_void_p]
LIB.H5Awrite.restype = ctypes.c_int


def write_compound_vlen_attr(obj, name, rows):
    """An attribute of compound {int32, vlen utf-8 string, vlen int32}. h5py 3.7 corrupts
    the heap when it writes vlen data inside a compound *attribute* (datasets are fine),
    so the memory buffer (hvl_t, char*) is built with ctypes and written with H5Awrite."""
    ftype = h5t.py_create(CMP_VLEN_T, logical=True)
    mtype = h5t.create(h5t.COMPOUND, ctypes.sizeof(_CmpVlen))
    mtype.insert(b"k", _CmpVlen.k.offset, h5t.NATIVE_INT32)
    vs = h5t.C_S1.copy()
    vs.set_size(h5t.VARIABLE)
    vs.set_cset(h5t.CSET_UTF8)
    mtype.insert(b"s", _CmpVlen.s.offset, vs)
    mtype.insert(b"v", _CmpVlen.v.offset, h5t.vlen_create(h5t.NATIVE_INT32))
    keep = []  # the ctypes buffers the hvl_t / char* point into, alive until H5Awrite
    buf = (_CmpVlen * len(rows))()
    for i, (k, text, seq) in enumerate(rows):
        arr = (ctypes.c_int32 * max(1, len(seq)))(*seq)
        raw = text.encode()
        keep += [arr, raw]
        buf[i].k = k
        buf[i].s = raw
        buf[i].v = _HVL(len(seq), ctypes.cast(arr, ctypes.c_void_p) if seq else None)
    aid = h5a.create(obj.id, name.encode(), ftype, h5s.create_simple((len(rows),)))
    _check(LIB.H5Awrite(aid.id, mtype.id, ctypes.addressof(buf)), "H5Awrite")


def add_attr_zoo(obj, f, refs_to, region_of):
    """Attributes of every type on obj (scalar and array forms)."""
    a = obj.attrs
    for code in NUMERIC:
        vals = numeric_values(code)
        a.create("scalar_" + code, vals[-1], dtype=code)
        a.create("array_" + code, vals, dtype=code)
    for code in BIG_ENDIAN:
        a.create("be_" + code[1:], numeric_values(code)[[0, 2, 4]], dtype=code)
    a.create("be_scalar_f8", 2.5, dtype=">f8")
    a.create("float_specials", np.array([np.nan, np.inf, -np.inf, -0.0], "f8"))
    a.create("array_2d_i4", np.arange(6, dtype="<i4").reshape(2, 3))
    # strings
    a["vstr_ascii_empty"] = ""
    a.create("vstr_ascii", "plain ascii", dtype=VSTR_ASCII)
    a["vstr_utf8"] = "Température °C ✓ 日本語"
    a.create("vstr_array", ["a", "bb", "ccc", ""], dtype=VSTR_UTF8)
    a.create("vstr_ascii_array", [b"x", b"yy"], dtype=VSTR_ASCII)
    a.create("fixed_nullpad", np.bytes_(b"hello"))
    a.create("fixed_empty", np.bytes_(b""))
    a.create("fixed_array", np.array([b"ab", b"cde", b""], dtype="S4"))
    tid = str_type(10, h5t.STR_NULLPAD, h5t.CSET_UTF8)
    h5a.create(obj.id, b"fixed_utf8", tid, h5s.create(h5s.SCALAR)).write(
        np.array("żółw".encode(), "S10"), mtype=tid)
    for pad, pname in ((h5t.STR_NULLTERM, "nullterm"), (h5t.STR_SPACEPAD, "spacepad")):
        tid = str_type(8, pad)
        aid = h5a.create(obj.id, ("fixed_" + pname).encode(), tid, h5s.create(h5s.SCALAR))
        aid.write(np.array(b"abc", dtype="S8"))
    # enum, bool
    a.create("enum_scalar", 42, dtype=ENUM_T)
    a.create("enum_array", [0, 1, 42], dtype=ENUM_T)
    a.create("enum_u2", [1000, 60000], dtype=ENUM16_T)
    a["bool_scalar"] = np.bool_(True)
    a["bool_array"] = np.array([True, False, True])
    # compound, array, opaque, vlen
    a.create("compound_nested", nested_values())
    a.create("compound_scalar", nested_values()[1])
    write_compound_vlen_attr(obj, "compound_vlen", [(1, "eins", [1, 2, 3]), (2, "zwei ✓", [])])
    tid = h5t.array_create(h5t.STD_I32LE, (3,))
    h5a.create(obj.id, b"array_type", tid, h5s.create_simple((2,))).write(
        np.array([[1, 2, 3], [4, 5, 6]], "<i4"), mtype=tid)
    tid = opaque_type(7, b"vzarr:opaque")
    aid = h5a.create(obj.id, b"opaque", tid, h5s.create_simple((2,)))
    aid.write(np.array([b"\x00\x01\x02\x03\x04\x05\x06", b"ABCDEFG"], dtype="V7"), mtype=tid)
    vl = np.empty(3, dtype=object)
    vl[0], vl[1], vl[2] = np.array([1], "<i4"), np.array([], "<i4"), np.array([5, 6, 7, 8], "<i4")
    a.create("vlen_i4", vl, dtype=VLEN_I4)
    # references
    ra = np.empty(3, dtype=h5py.ref_dtype)
    ra[0], ra[1], ra[2] = refs_to[0].ref, refs_to[1].ref, h5py.Reference()
    a.create("objref_array", ra)
    a.create("objref_scalar", refs_to[0].ref, dtype=h5py.ref_dtype)
    a.create("regionref", region_of.regionref[1:3, 0:2], dtype=h5py.regionref_dtype)
    # null dataspace
    a["empty_f4"] = h5py.Empty("f4")
    a["empty_str"] = h5py.Empty("S5")


def write_types(f, latest):
    """Datatypes, dataspaces, committed types, attributes of every type."""
    num = mkgroup(f, "num")
    for code in NUMERIC:
        num.create_dataset(code, data=numeric_values(code))
    for code in BIG_ENDIAN:
        num.create_dataset("be_" + code[1:], data=numeric_values(code))
    num.create_dataset("f8_specials", data=np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324], "f8"))
    grid = num.create_dataset("i4_2d", data=np.arange(20, dtype="<i4").reshape(4, 5))

    st = mkgroup(f, "str")
    st.create_dataset("fixed_nullpad", data=np.array([b"one", b"two22", b"", b"fourfour"], "S8"))
    for pad, pname in ((h5t.STR_NULLTERM, "nullterm"), (h5t.STR_SPACEPAD, "spacepad")):
        ds = ll_dataset(st, "fixed_" + pname, str_type(8, pad), (4,))
        ds[...] = np.array([b"one", b"two22", b"", b"sevenxx"], "S8")
    ds = ll_dataset(st, "fixed_utf8", str_type(10, h5t.STR_NULLPAD, h5t.CSET_UTF8), (2,))
    write_ll(ds, np.array(["żółw".encode(), b"ok"], "S10"), ds.id.get_type())
    st.create_dataset("vlen_ascii", data=[b"alpha", b"", b"gamma gamma"], dtype=VSTR_ASCII)
    st.create_dataset("vlen_utf8", data=["héllo", "", "日本語テキスト", "✓"], dtype=VSTR_UTF8)
    st.create_dataset("vlen_scalar", data="a scalar vlen string", dtype=VSTR_UTF8)
    st.create_dataset("fixed_scalar", data=np.bytes_(b"fixed scalar"))
    st.create_dataset("vlen_2d", data=np.array([["a", "bb"], ["ccc", "dddd"]], dtype=object),
                      dtype=VSTR_UTF8)

    ty = mkgroup(f, "typ")
    ty.create_dataset("enum", data=np.array([0, 1, 42, 1], "i1"), dtype=ENUM_T)
    ty.create_dataset("enum_u2", data=np.array([1000, 60000], "u2"), dtype=ENUM16_T)
    ty.create_dataset("bool", data=np.array([True, False, False, True]))
    ty.create_dataset("compound_nested", data=nested_values())
    cv = np.zeros(3, CMP_VLEN_T)
    for i in range(3):
        cv[i] = (i, "s%d" % i * i, np.arange(i + 1, dtype="<i4"))
    ty.create_dataset("compound_vlen", data=cv)
    ca = np.zeros(2, CMP_ARRAY_T)
    ca[0] = (1.0, (1, 2, 3), ((1, 2), (3, 4)))
    ca[1] = (2.0, (4, 5, 6), ((5, 6), (7, 8)))
    ty.create_dataset("compound_array_members", data=ca)
    ty.create_dataset("array_i4x3", shape=(4,), dtype=ARRAY_T)[...] = \
        np.arange(12, dtype="<i4").reshape(4, 3)
    ty.create_dataset("array_f4x2x2", shape=(3,), dtype=ARRAY2D_T)[...] = \
        np.arange(12, dtype="<f4").reshape(3, 2, 2)
    write_opaque(ty, "opaque", b"vzarr:opaque-7", [b"\x00\x01\x02\x03\x04\x05\x06", b"ABCDEFG", b"zzzzzzz"])
    ty.create_dataset("opaque_notag", data=np.array([b"\x01\x02\x03"], dtype="V3"))
    vl = np.empty(4, dtype=object)
    for i in range(4):
        vl[i] = np.arange(i * 2, dtype="<i4") * (i + 1)
    ty.create_dataset("vlen_i4", data=vl, dtype=VLEN_I4)
    vf = np.empty(2, dtype=object)
    vf[0], vf[1] = np.array([1.5, 2.5], "<f8"), np.array([3.5], "<f8")
    ty.create_dataset("vlen_f8", data=vf, dtype=VLEN_F8)
    refs = ty.create_dataset("objref", (4,), dtype=h5py.ref_dtype)
    refs[0], refs[1], refs[2] = grid.ref, num.ref, f["/"].ref
    refs[3] = h5py.Reference()
    rr = ty.create_dataset("regionref", (3,), dtype=h5py.regionref_dtype)
    rr[0] = grid.regionref[1:3, 2:5]
    space = grid.id.get_space()
    space.select_elements(np.array([[0, 0], [3, 4], [2, 1]], dtype="u8"))
    rr[1] = h5r.create(grid.file.id, grid.name.encode(), h5r.DATASET_REGION, space)
    rr[2] = grid.regionref[...]

    sp = mkgroup(f, "space")
    sp.create_dataset("scalar_f8", data=np.float64(3.25))
    sp.create_dataset("scalar_i2", data=np.int16(-7))
    sp.create_dataset("null_f4", data=h5py.Empty("f4"))
    sp.create_dataset("null_vstr", data=h5py.Empty(VSTR_UTF8))
    sp.create_dataset("simple_3d", data=np.arange(24, dtype="u2").reshape(2, 3, 4))
    sp.create_dataset("zero_len_chunked", shape=(0,), maxshape=(None,), dtype="f4", chunks=(4,))
    sp.create_dataset("unlimited_1d", data=np.arange(10, dtype="i4"), maxshape=(None,), chunks=(4,))
    sp.create_dataset("unlimited_2d", data=np.arange(12, dtype="f8").reshape(3, 4),
                      maxshape=(None, None), chunks=(2, 2))
    sp.create_dataset("maxshape_bigger", data=np.arange(6, dtype="i2"), maxshape=(100,), chunks=(4,))

    # committed (named) datatypes, used by datasets and attributes
    ct = commit_type(f, "t_compound", NESTED_T)
    et = commit_type(f, "t_enum", ENUM_T)
    commit_type(f, "t_vstr", VSTR_UTF8)
    at = commit_type(f, "t_array", ARRAY_T)
    cg = mkgroup(f, "committed")
    cg.create_dataset("compound", data=nested_values(), dtype=ct)
    cg.create_dataset("enum", data=np.array([42, 0], "i1"), dtype=et)
    cg.create_dataset("array", shape=(2,), dtype=at)[...] = np.array([[1, 2, 3], [7, 8, 9]], "<i4")
    cg["compound"].attrs.create("attr_committed", nested_values()[0], dtype=ct)
    f.attrs.create("root_attr_committed_enum", [1, 42], dtype=et)
    ct.attrs["description"] = "committed compound type"

    # attributes of every type on the root, a group and a dataset
    ag = mkgroup(f, "attr_types")
    add_attr_zoo(f, f, (grid, num), grid)
    add_attr_zoo(ag, f, (grid, num), grid)
    ds = ag.create_dataset("on_dataset", data=np.arange(3, dtype="i4"))
    add_attr_zoo(ds, f, (grid, ag), grid)


def write_groups(f, latest, big_attr_bytes):
    """Groups, links, cycles, dense/compact storage, continuation blocks, dimension scales."""
    f.attrs["title"] = "groups and links"
    g1 = mkgroup(f, "g1")
    g2 = mkgroup(g1, "g2")
    g3 = mkgroup(g2, "g3")
    for depth, g in enumerate((g1, g2, g3), start=1):
        g.attrs["depth"] = np.int32(depth)
        g.create_dataset("data%d" % depth, data=np.arange(depth * 4, dtype="i4"))
    g3.create_dataset("deep_chunked", data=field2d(10, 12, 3), chunks=(4, 5), compression="gzip")

    data = f.create_dataset("data", data=np.arange(16, dtype="f8").reshape(4, 4))
    # hard links: the same dataset under other names
    g1["data_hardlink"] = data
    f["data_alias"] = data
    # cycles: hard links back to the root and to a parent
    g3["to_root"] = f["/"]
    g3["to_g1"] = g1
    g2["self"] = g2
    # soft links in the root (a symbol-table group in the earliest file)
    f["soft_to_g3"] = h5py.SoftLink("/g1/g2/g3")
    f["soft_dangling_root"] = h5py.SoftLink("/no/such/object")
    # a group with every link type (external links turn an old-style group into a
    # link-message group, so they live here, not in the root)
    lk = mkgroup(f, "links")
    lk["hard_to_data3"] = f["g1/g2/g3/data3"]
    lk["soft_to_data"] = h5py.SoftLink("/data")
    lk["soft_relative"] = h5py.SoftLink("hard_to_data3")
    lk["soft_to_group"] = h5py.SoftLink("/g1")
    lk["soft_dangling"] = h5py.SoftLink("/does/not/exist")
    lk["external"] = h5py.ExternalLink("h5_extlink_target.h5", "/target/data")
    lk["external_group"] = h5py.ExternalLink("h5_extlink_target.h5", "/target")
    lk["external_dangling"] = h5py.ExternalLink("no_such_file.h5", "/x")

    # few members: compact link storage (latest); many: dense (latest) / B-tree (earliest)
    cg = mkgroup(f, "compact")
    for i in range(3):
        cg.create_dataset("m%d" % i, data=np.int16(i))
    dg = mkgroup(f, "dense")
    for i in range(40):
        if i % 8 == 7:
            mkgroup(dg, "sub%02d" % i)
        else:
            dg.create_dataset("d%02d" % i, data=np.int32(i))
    dg["soft_in_dense"] = h5py.SoftLink("/data")
    og = mkgroup(f, "dense_ordered", track_order=True)
    for i in range(20):
        og.create_dataset("z%02d" % (19 - i), data=np.uint8(i))
    og.attrs["order"] = "created z19 first"
    mkgroup(f, "empty_group")
    mkgroup(f, "empty_group_ordered", track_order=True)

    # attributes: added after creation so the object header needs continuation blocks;
    # many attributes (dense storage in latest files); one attribute too big to be compact
    # (libhdf5 grows a header in place while it is the last thing in the file, so other
    # objects are created between the rounds of attributes)
    cont = f.create_dataset("attrs_continuation", data=np.arange(4, dtype="i4"),
                            dcpl=dcpl_new(phase=(200, 150)))
    cgrp = mkgroup(f, "attrs_group_continuation", phase=(200, 150))
    for r in range(3):
        f.create_dataset("attrs_continuation_spacer%d" % r, data=np.arange(8, dtype="i2"))
        for i in range(r * 10, r * 10 + 10):
            cont.attrs["attr_%02d" % i] = np.arange(i + 1, dtype="f8")
            cgrp.attrs["c%02d" % i] = "string attribute number %d, padded to grow the header" % i
    dense = f.create_dataset("attrs_dense", data=np.arange(4, dtype="i4"))
    for i in range(30):
        dense.attrs["a%02d" % i] = "value %d" % i if i % 2 else np.int64(i)
    ordered = f.create_dataset("attrs_dense_ordered", data=np.arange(2, dtype="i4"),
                               dcpl=dcpl_new(track_order=True))
    for i in range(12):
        ordered.attrs["o%02d" % (11 - i)] = np.int32(i)
    big = f.create_dataset("attrs_big", data=np.arange(2, dtype="i4"))
    big.attrs["small"] = np.int32(1)
    big.attrs["big"] = np.arange(big_attr_bytes // 4, dtype="<f4")
    ag = mkgroup(f, "attrs_group")
    for i in range(30):
        ag.attrs["ga%02d" % i] = np.float32(i) / 4

    # dimension scales (h5py dims API) and plain datasets without any (phony dims)
    dims = mkgroup(f, "dims")
    x = dims.create_dataset("x", data=np.linspace(0, 9, 10))
    y = dims.create_dataset("y", data=np.arange(5, dtype="f4"))
    x2 = dims.create_dataset("x_alt", data=np.arange(10, dtype="i4") * 100)
    x.make_scale("x")
    y.make_scale()  # a scale without a name
    x2.make_scale("x alternative")
    d = dims.create_dataset("data", data=field2d(10, 5, 7))
    d.dims[0].attach_scale(x)
    d.dims[0].attach_scale(x2)
    d.dims[1].attach_scale(y)
    d.dims[0].label = "x"
    d.dims[1].label = "y"
    d2 = dims.create_dataset("data_x_only", data=np.arange(10, dtype="i2"))
    d2.dims[0].attach_scale(x)
    dims.create_dataset("phony", data=field2d(10, 5, 8))
    dims.create_dataset("phony_3d", data=np.zeros((2, 3, 4), "u1"), chunks=(1, 3, 4))


def chunked(group, name, data=None, shape=None, dtype=None, chunks=None, maxshape=None,
            dcpl=None, **kw):
    return group.create_dataset(name, data=data, shape=shape, dtype=dtype, chunks=chunks,
                                maxshape=maxshape, dcpl=dcpl if dcpl is not None else dcpl_new(), **kw)


def mask_chunk(ds, offset):
    """Rewrite one whole chunk with write_direct_chunk, unfiltered, filter_mask=1
    (filter 0 - the deflate filter of these gzip-only datasets - skipped)."""
    ch = ds.chunks
    sel = tuple(slice(o, o + c) for o, c in zip(offset, ch))
    block = ds[sel]
    assert block.shape == ch, "mask_chunk needs an interior chunk"
    ds.id.write_direct_chunk(tuple(offset), np.ascontiguousarray(block).tobytes(), filter_mask=1)


def write_layouts(f, latest):
    """Filters, layouts, every chunk index of the file's format, fill values, resizes."""
    lay = mkgroup(f, "layout")
    # compact
    d = ll_dataset(lay, "compact", h5t.STD_I32LE, (10,), dcpl=dcpl_new(layout=h5d.COMPACT))
    d[...] = np.arange(10, dtype="<i4") * 3
    d = ll_dataset(lay, "compact_2d_f8", h5t.IEEE_F64BE, (3, 4), dcpl=dcpl_new(layout=h5d.COMPACT))
    d[...] = np.arange(12, dtype="f8").reshape(3, 4) / 8
    ll_dataset(lay, "compact_unwritten", h5t.STD_U16LE, (5,), dcpl=dcpl_new(layout=h5d.COMPACT))
    # contiguous: written, never written (unallocated), allocated early but not written
    lay.create_dataset("contiguous", data=field2d(20, 30, 1))
    lay.create_dataset("contiguous_be", data=np.arange(100, dtype=">i4"))
    lay.create_dataset("contiguous_unallocated", shape=(50, 50), dtype="f4")
    lay.create_dataset("contiguous_early", shape=(16,), dtype="i2", fillvalue=-1,
                       dcpl=dcpl_new(alloc=h5d.ALLOC_TIME_EARLY))
    # external raw storage (contiguous layout with an External Data Files message)
    raw = np.arange(32, dtype="<i4")
    with open("h5_external_raw.bin", "wb") as fh:
        fh.write(b"HEADER--" + raw.tobytes())
    lay.create_dataset("external", shape=(32,), dtype="<i4",
                       external=[("h5_external_raw.bin", 8, raw.nbytes)])

    # filters (chunked (40, 30) into (16, 20): shape not a multiple of the chunk shape)
    flt = mkgroup(f, "filters")
    fdata = field2d(40, 30, 2)
    idata = (fdata * 100).astype("<i4")
    chunked(flt, "gzip1", fdata, chunks=(16, 20), compression="gzip", compression_opts=1)
    chunked(flt, "gzip9", fdata, chunks=(16, 20), compression="gzip", compression_opts=9)
    chunked(flt, "shuffle", fdata, chunks=(16, 20), shuffle=True)
    chunked(flt, "fletcher32", fdata, chunks=(16, 20), fletcher32=True)
    chunked(flt, "lzf", fdata, chunks=(16, 20), compression="lzf")
    chunked(flt, "szip", fdata, chunks=(16, 20), compression="szip", compression_opts=("nn", 8))
    chunked(flt, "shuffle_gzip_fletcher32", fdata, chunks=(16, 20), shuffle=True,
            compression="gzip", compression_opts=6, fletcher32=True)
    chunked(flt, "shuffle_lzf", idata, chunks=(16, 20), shuffle=True, compression="lzf")
    chunked(flt, "scaleoffset_int", idata, chunks=(16, 20), scaleoffset=0)
    chunked(flt, "scaleoffset_int_gzip", idata, chunks=(16, 20), scaleoffset=0, compression="gzip")
    chunked(flt, "scaleoffset_float", fdata.astype("f8"), chunks=(16, 20), scaleoffset=2)
    nb = h5t.STD_I32LE.copy()
    nb.set_precision(12)
    d = ll_dataset(flt, "nbit_i32_p12", nb, (40, 30),
                   dcpl=dcpl_new(layout=h5d.CHUNKED, chunks=(16, 20), nbit=True))
    d[...] = (idata % 2048).astype("<i4")
    # a chunk whose filter mask is non-zero: written raw, deflate skipped
    d = chunked(flt, "gzip_filter_mask", np.arange(64, dtype="<i2").reshape(8, 8), chunks=(4, 4),
                compression="gzip")
    mask_chunk(d, (4, 4))

    ci = mkgroup(f, "chunk_index")
    # single chunk (latest): chunks == shape == maxshape, unfiltered and filtered
    chunked(ci, "single", field2d(12, 10, 4), chunks=(12, 10))
    d = chunked(ci, "single_gzip", field2d(12, 10, 4), chunks=(12, 10), compression="gzip")
    d = chunked(ci, "single_gzip_masked", np.arange(40, dtype="<i4").reshape(4, 10), chunks=(4, 10),
                compression="gzip")
    mask_chunk(d, (0, 0))
    chunked(ci, "single_unwritten", shape=(5, 5), dtype="f4", chunks=(5, 5))
    # implicit (latest): early allocation, no filter, fixed maxshape
    d = chunked(ci, "implicit", shape=(20, 30), dtype="i2", chunks=(6, 7), fillvalue=-5,
                dcpl=dcpl_new(alloc=h5d.ALLOC_TIME_EARLY))
    d[0:6, 0:7] = 1
    d[18:20, 28:30] = 2
    chunked(ci, "implicit_1d_full", np.arange(100, dtype="u1"), chunks=(10,),
            dcpl=dcpl_new(alloc=h5d.ALLOC_TIME_EARLY))
    # fixed array (latest): fixed maxshape; sparse writes; > 1024 chunks (paged data block)
    d = chunked(ci, "fixed_array", shape=(30, 40), dtype="f4", chunks=(7, 9), fillvalue=np.nan)
    d[0:7, 0:9] = 1.5
    d[14:30, 20:40] = field2d(16, 20, 5)
    d = chunked(ci, "fixed_array_gzip", field2d(30, 40, 6), chunks=(7, 9), compression="gzip",
                shuffle=True)
    d = chunked(ci, "fixed_array_gzip_masked", np.arange(32 * 32, dtype="<i2").reshape(32, 32),
                chunks=(8, 8), compression="gzip")
    mask_chunk(d, (8, 16))
    d = chunked(ci, "fixed_array_maxshape", np.arange(100, dtype="i4").reshape(10, 10),
                chunks=(4, 4), maxshape=(20, 20))
    d.resize((15, 12))
    d[10:15, 10:12] = 7
    if latest:  # (many one-byte chunks: only where they exercise a paged index)
        d = chunked(ci, "fixed_array_paged", shape=(1100,), dtype="i1", chunks=(1,))
        d[...] = (np.arange(1100) % 127).astype("i1")
        d = chunked(ci, "fixed_array_paged_page0_empty", shape=(2100,), dtype="i1", chunks=(1,))
        d[1030:1100] = 1  # only the second of three pages is ever initialised
        d = chunked(ci, "fixed_array_paged_sparse_gzip", shape=(1100, 2), dtype="u1", chunks=(1, 2),
                    compression="gzip")
        d[::3] = 9
    # extensible array (latest): exactly one unlimited dimension
    d = chunked(ci, "extensible_array", np.arange(200, dtype="<f8").reshape(10, 20), chunks=(3, 20),
                maxshape=(None, 20))
    d = chunked(ci, "extensible_array_2nd_dim", np.arange(60, dtype="<i4").reshape(6, 10),
                chunks=(4, 3), maxshape=(6, None))
    if latest:  # 2000 chunks: index block, 6 data blocks in it, super blocks 4..7
        d = chunked(ci, "extensible_array_many", shape=(2000,), dtype="i1", chunks=(1,),
                    maxshape=(None,))
        d[...] = (np.arange(2000) % 100).astype("i1")
    d = chunked(ci, "extensible_array_sparse", shape=(5000,), dtype="i2", chunks=(10,),
                maxshape=(None,), fillvalue=-1)
    for start in (0, 990, 2500, 4990):
        d[start:start + 10] = np.arange(10, dtype="i2") + start
    d = chunked(ci, "extensible_array_gzip_masked", np.arange(400, dtype="<i4").reshape(100, 4),
                chunks=(8, 4), maxshape=(None, 4), compression="gzip")
    mask_chunk(d, (16, 0))
    d = chunked(ci, "extensible_array_resized", np.arange(30, dtype="<i4"), chunks=(4,),
                maxshape=(None,))
    d.resize((70,))
    d[60:70] = 60
    d.resize((22,))
    d = chunked(ci, "extensible_array_grown", np.arange(10, dtype="<i4"), chunks=(4,), maxshape=(None,))
    d.resize((1000,))
    d[996:1000] = 4
    # version-2 B-tree (latest): two or more unlimited dimensions
    d = chunked(ci, "btree_v2", shape=(40, 50), dtype="<i4", chunks=(3, 4), maxshape=(None, None))
    d[...] = np.arange(2000, dtype="<i4").reshape(40, 50)
    d = chunked(ci, "btree_v2_gzip", field2d(40, 50, 9), chunks=(3, 4), maxshape=(None, None),
                compression="gzip", shuffle=True)
    d = chunked(ci, "btree_v2_sparse", shape=(100, 100), dtype="f4", chunks=(10, 10),
                maxshape=(None, None), fillvalue=-1.0)
    d[0:10, 0:10] = 1
    d[55:65, 90:100] = 2
    d = chunked(ci, "btree_v2_gzip_masked", np.arange(256, dtype="<i4").reshape(16, 16), chunks=(4, 4),
                maxshape=(None, None), compression="gzip")
    mask_chunk(d, (4, 8))
    d = chunked(ci, "btree_v2_3d_resized", np.arange(120, dtype="u2").reshape(4, 5, 6), chunks=(2, 2, 2),
                maxshape=(None, 5, None))
    d.resize((8, 5, 6))
    d[6:8] = 1
    d.resize((3, 5, 4))
    chunked(ci, "btree_v2_unwritten", shape=(10, 10), dtype="f4", chunks=(5, 5), maxshape=(None, None))

    # fill values
    fv = mkgroup(f, "fill")
    fv.create_dataset("default_f4", shape=(8,), dtype="f4", chunks=(4,))
    fv.create_dataset("explicit_f4", shape=(8,), dtype="f4", chunks=(4,), fillvalue=-9999.0)
    fv.create_dataset("explicit_be_i8", shape=(8,), dtype=">i8", chunks=(4,), fillvalue=-(2 ** 40))
    fv.create_dataset("explicit_compound", shape=(4,), dtype=NESTED_T, chunks=(2,),
                      fillvalue=nested_values()[2])
    fv.create_dataset("explicit_fixed_str", shape=(4,), dtype="S5", fillvalue=np.bytes_(b"N/A"))
    d = fv.create_dataset("explicit_partial", shape=(10,), dtype="u2", chunks=(4,), fillvalue=65535)
    d[0:2] = 1
    d = chunked(fv, "fill_never", shape=(10,), dtype="i4", chunks=(5,),
                dcpl=dcpl_new(fill_time=h5d.FILL_TIME_NEVER))
    d[0:5] = 5
    d = chunked(fv, "fill_ifset", shape=(10,), dtype="i4", chunks=(5,), fillvalue=3,
                dcpl=dcpl_new(fill_time=h5d.FILL_TIME_IFSET))
    d[5:10] = 4

    # resized datasets: grown and shrunk after writes (every file format)
    rs = mkgroup(f, "resize")
    d = rs.create_dataset("grow_shrink", data=np.arange(20, dtype="i4"), chunks=(6,), maxshape=(None,))
    d.resize((50,))
    d[40:50] = -1
    d.resize((33,))
    d = rs.create_dataset("grow_2d", data=np.ones((5, 5), "f4"), chunks=(2, 3), maxshape=(None, 20))
    d.resize((9, 13))
    d[8, 12] = 9

    if latest:
        # a virtual dataset (layout class 3) over two datasets of this file
        lay.create_dataset("vds_src_a", data=np.arange(5, dtype="i4"))
        lay.create_dataset("vds_src_b", data=np.arange(5, dtype="i4") + 10)
        vl = h5py.VirtualLayout(shape=(2, 5), dtype="i4")
        vl[0] = h5py.VirtualSource(".", "/layout/vds_src_a", shape=(5,))
        vl[1] = h5py.VirtualSource(".", "/layout/vds_src_b", shape=(5,))
        lay.create_virtual_dataset("virtual", vl, fillvalue=-1)


def write_small_mixed(f):
    """A little of everything, for files where a file-level property is the point."""
    f.attrs["purpose"] = "file-level property fixture"
    f.attrs["answer"] = np.int32(42)
    g = mkgroup(f, "group")
    g.attrs["vstr"] = "a group attribute"
    g.create_dataset("contiguous", data=np.arange(50, dtype="<f8"))
    ll_dataset(g, "compact", h5t.STD_I16BE, (6,), dcpl=dcpl_new(layout=h5d.COMPACT))[...] = np.arange(6)
    g.create_dataset("chunked", data=field2d(30, 20, 11), chunks=(8, 8))
    g.create_dataset("chunked_gzip", data=field2d(30, 20, 12), chunks=(8, 8), compression="gzip",
                     shuffle=True)
    g.create_dataset("unlimited", data=np.arange(25, dtype="i4"), chunks=(10,), maxshape=(None,))
    g.create_dataset("unlimited_2d", data=np.arange(30, dtype="i4").reshape(5, 6), chunks=(2, 2),
                     maxshape=(None, None), compression="gzip")
    g.create_dataset("strings", data=["x", "yy", "zzz"], dtype=VSTR_UTF8)
    d = g.create_dataset("many_attrs", data=np.arange(3, dtype="i4"))
    for i in range(12):
        d.attrs["m%02d" % i] = np.int16(i)
    f["soft"] = h5py.SoftLink("/group/contiguous")
    f["hard"] = g["contiguous"]
    big = mkgroup(g, "members")
    for i in range(40):
        big.create_dataset("s%02d" % i, data=np.int8(i))


# --------------------------------------------------------------------------------------
# The fixtures
# --------------------------------------------------------------------------------------


def stamp_userblock(name, size):
    text = ("vzarr test fixture userblock (%d bytes); the HDF5 superblock starts right after it.\n"
            % size).encode()
    with open(name, "r+b") as fh:
        fh.write(text)


def write_sohm(f):
    f.attrs["shared_attr"] = np.arange(8, dtype="f8")
    ct = commit_type(f, "t_compound", NESTED_T)
    for i in range(12):
        d = f.create_dataset("cmp%02d" % i, shape=(6, 4), dtype=NESTED_T, chunks=(3, 4),
                             compression="gzip", shuffle=True, fillvalue=nested_values()[1])
        d[0:3] = nested_values()[0]
        d.attrs["units"] = "same attribute on every dataset"
        d.attrs["scale"] = np.float64(0.5)
    for i in range(6):
        d = f.create_dataset("f4_%02d" % i, data=field2d(10, 10, 20 + i))
        d.attrs["units"] = "same attribute on every dataset"
    for i in range(4):
        d = f.create_dataset("committed%02d" % i, data=nested_values(), dtype=ct)
        d.attrs.create("cattr", nested_values()[0], dtype=ct)
    g = mkgroup(f, "grp")
    g.attrs["units"] = "same attribute on every dataset"
    g.create_dataset("i2", data=np.arange(24, dtype="i2").reshape(6, 4))


def write_big(f, shape, chunks, maxshape=None):
    d = f.create_dataset("data", shape=shape, dtype="i1", chunks=chunks, maxshape=maxshape,
                         dcpl=dcpl_new())
    d[...] = (np.arange(int(np.prod(shape))) % 113).astype("i1").reshape(shape)
    d.attrs["note"] = "one int8 element per chunk"


def gen_netcdf_basic(name):
    ds = netCDF4.Dataset(name, "w", format="NETCDF4")
    ds.Conventions = "CF-1.8"
    ds.title = "vzarr sample: monthly near-surface air temperature (synthetic)"
    ds.institution = "vzarr test fixtures"
    ds.source = "testdata/gen_fixtures.py (deterministic synthetic data)"
    ds.history = "generated by testdata/gen_fixtures.py"
    ds.references = "none; the values are synthetic"
    ds.createDimension("time", None)
    ds.createDimension("lat", 36)
    ds.createDimension("lon", 72)
    ds.createDimension("bnds", 2)
    t = ds.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01"
    t.calendar = "standard"
    t.standard_name = "time"
    t.long_name = "time"
    t.axis = "T"
    t.bounds = "time_bnds"
    tb = ds.createVariable("time_bnds", "f8", ("time", "bnds"))
    lat = ds.createVariable("lat", "f4", ("lat",))
    lat.units = "degrees_north"
    lat.standard_name = "latitude"
    lat.long_name = "latitude"
    lat.axis = "Y"
    lon = ds.createVariable("lon", "f4", ("lon",))
    lon.units = "degrees_east"
    lon.standard_name = "longitude"
    lon.long_name = "longitude"
    lon.axis = "X"
    tas = ds.createVariable("tas", "f4", ("time", "lat", "lon"), zlib=True, complevel=4, shuffle=True,
                            chunksizes=(4, 18, 36), fill_value=np.float32(1.0e20))
    tas.units = "K"
    tas.standard_name = "air_temperature"
    tas.long_name = "Near-Surface Air Temperature"
    tas.cell_methods = "time: mean"
    tas.missing_value = np.float32(1.0e20)
    days = np.array([0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366], "f8")
    t[:] = (days[:-1] + days[1:]) / 2
    tb[:] = np.stack([days[:-1], days[1:]], axis=1)
    lat[:] = np.arange(-87.5, 90, 5, dtype="f4")
    lon[:] = np.arange(2.5, 360, 5, dtype="f4")
    la = np.deg2rad(np.arange(-87.5, 90, 5))[None, :, None]
    lo = np.deg2rad(np.arange(2.5, 360, 5))[None, None, :]
    m = np.arange(12)[:, None, None]
    field = (288 - 40 * np.sin(la) ** 2 + 12 * np.sin(la) * np.cos(2 * np.pi * (m - 0.5) / 12)
             + 2 * np.cos(3 * lo) * np.cos(la))
    field = np.round(field + 0.2 * rng(2000).standard_normal(field.shape), 1).astype("f4")
    data = np.ma.masked_array(field, mask=np.zeros(field.shape, bool))
    data.mask[:, 0:3, 10:20] = True  # a missing patch: stored as _FillValue
    tas[:] = data
    ds.close()


def gen_netcdf_groups(name):
    ds = netCDF4.Dataset(name, "w", format="NETCDF4")
    ds.description = "nested groups, inherited dimensions, dimension-only dims"
    ds.createDimension("time", None)
    ds.createDimension("x", 4)
    ds.createDimension("y", 3)
    ds.createDimension("nv", 2)  # a dimension with no variable
    t = ds.createVariable("time", "i4", ("time",))
    t.units = "hours since 2020-01-01 00:00:00"
    t[:] = np.arange(5) * 6
    x = ds.createVariable("x", "f8", ("x",))
    x.units = "m"
    x[:] = np.arange(4) * 250.0
    ds.createVariable("y", "f4", ("y",))[:] = np.arange(3, dtype="f4") * 0.5
    v = ds.createVariable("root_var", "f4", ("time", "y", "x"), zlib=True, chunksizes=(2, 3, 4))
    v[:] = np.arange(60, dtype="f4").reshape(5, 3, 4)
    ds.createVariable("bounds", "f8", ("x", "nv"))[:] = np.arange(8.0).reshape(4, 2)
    g1 = ds.createGroup("g1")
    g1.note = "g1 defines z (unlimited) and an unused dimension"
    g1.createDimension("z", None)
    g1.createDimension("unused", 7)
    z = g1.createVariable("z", "f4", ("z",))
    z.positive = "down"
    z[:] = np.array([0, 10, 20], "f4")
    g1.createVariable("g1_var", "i2", ("z", "x"))[:] = np.arange(12, dtype="i2").reshape(3, 4)
    g2 = g1.createGroup("g2")
    g2.createDimension("w", 2)
    v = g2.createVariable("g2_var", "f8", ("z", "x", "w"), fill_value=-1.0)
    v[:] = np.arange(24.0).reshape(3, 4, 2)
    v.coordinates = "z x"
    g3 = g2.createGroup("g3")
    g3.deepest = np.int32(3)
    v = g3.createVariable("g3_var", "u2", ("time", "y", "w"), zlib=True, complevel=9,
                          chunksizes=(1, 3, 2))
    v[:] = np.arange(30, dtype="u2").reshape(5, 3, 2)
    s = g3.createVariable("g3_scalar", "f8", ())
    s.assignValue(2.5)
    many = g3.createVariable("many_attrs", "i4", ("y",))
    for i in range(40):
        many.setncattr("attr_%02d" % i, np.int32(i) if i % 3 else "text %d" % i)
    many[:] = [1, 2, 3]
    other = ds.createGroup("other")
    other.createDimension("x", 2)  # shadows the root x
    other.createVariable("shadowed", "i1", ("x",))[:] = [1, 2]
    ds.close()


def gen_netcdf_types(name):
    ds = netCDF4.Dataset(name, "w", format="NETCDF4")
    ds.createDimension("n", 4)
    ds.createDimension("strlen", 6)
    ds.createDimension("rec", None)
    vals = {"i1": [-128, 0, 1, 127], "u1": [0, 1, 128, 255], "i2": [-32768, 0, 1, 32767],
            "u2": [0, 1, 2, 65535], "i4": [-2 ** 31, 0, 1, 2 ** 31 - 1],
            "u4": [0, 1, 2, 2 ** 32 - 1], "i8": [-2 ** 63, 0, 1, 2 ** 63 - 1],
            "u8": [0, 1, 2, 2 ** 64 - 1], "f4": [-1.5, 0, 1.1, 3.0e38], "f8": [-1.5, 0, 1.1, 1.0e300]}
    for code, v in vals.items():
        ds.createVariable("v_" + code, code, ("n",))[:] = np.array(v, code)
        ds.createVariable("be_" + code, np.dtype(code).newbyteorder(">"), ("n",),
                          endian="big")[:] = np.array(v, code)
    # char arrays, vlen strings
    c = ds.createVariable("chars", "S1", ("n", "strlen"))
    c[:] = netCDF4.stringtochar(np.array([b"ab", b"cdef", b"", b"ghijkl"], "S6"))
    c.long_name = "a char array"
    sv = ds.createVariable("vstrings", str, ("n",))
    for i, s in enumerate(["one", "", "drei ✓", "日本"]):
        sv[i] = s
    sc = ds.createVariable("vstring_scalar", str, ())
    sc[0] = "a scalar string variable"
    # user-defined types
    inner = np.dtype([("lat", "f4"), ("lon", "f4")])
    inner_t = ds.createCompoundType(inner, "latlon_t")
    outer = np.dtype([("id", "i4"), ("where", inner), ("vals", "i2", (3,))])
    outer_t = ds.createCompoundType(outer, "station_t")
    st = ds.createVariable("stations", outer_t, ("n",))
    sdata = np.zeros(4, outer)
    for i in range(4):
        sdata[i] = (i, (10.0 + i, 20.0 - i), (i, 2 * i, 3 * i))
    st[:] = sdata
    ds.createVariable("latlon", inner_t, ())
    cloud = ds.createEnumType(np.uint8, "cloud_t", {"clear": 0, "cumulus": 1, "stratus": 2, "missing": 255})
    e = ds.createVariable("clouds", cloud, ("n",), fill_value=255)
    e[:] = np.array([0, 1, 2, 255], "u1")
    vlt = ds.createVLType(np.int32, "ragged_t")
    rv = ds.createVariable("ragged", vlt, ("n",))
    for i in range(4):
        rv[i] = np.arange(i + 1, dtype="i4")
    # fill values
    ds.createVariable("fill_default", "f4", ("n",))[0:2] = [1, 2]
    ds.createVariable("fill_explicit", "i2", ("n",), fill_value=np.int16(-999))[0:1] = [7]
    ds.createVariable("fill_off", "f8", ("n",), fill_value=False)[:] = [1, 2, 3, 4]
    nf = ds.createVariable("fill_off_unlimited", "i4", ("rec",), fill_value=False)
    nf[0:3] = [1, 2, 3]
    # filters and storage
    d2 = np.arange(400, dtype="f4").reshape(20, 20) / 7
    ds.createDimension("a", 20)
    ds.createDimension("b", 20)
    ds.createVariable("contiguous", "f4", ("a", "b"), contiguous=True)[:] = d2
    ds.createVariable("zlib1", "f4", ("a", "b"), zlib=True, complevel=1, shuffle=False,
                      chunksizes=(8, 8))[:] = d2
    ds.createVariable("zlib9_shuffle", "f4", ("a", "b"), zlib=True, complevel=9, shuffle=True,
                      chunksizes=(8, 8))[:] = d2
    ds.createVariable("fletcher32", "f4", ("a", "b"), fletcher32=True, chunksizes=(10, 10))[:] = d2
    ds.createVariable("zlib_fletcher32", "f4", ("a", "b"), zlib=True, fletcher32=True,
                      chunksizes=(20, 20))[:] = d2
    ds.createVariable("chunked_rec", "f4", ("rec", "b"), chunksizes=(3, 7))[0:5] = d2[0:5]
    # attributes of many types
    ds.att_char = "char attribute"
    ds.setncattr_string("att_string", "NC_STRING attribute ✓")
    ds.setncattr_string("att_string_array", ["a", "bb", "ccc"])
    ds.att_i1 = np.int8(-5)
    ds.att_u8 = np.uint64(2 ** 64 - 1)
    ds.att_f4_array = np.array([1.5, 2.5], "f4")
    ds.att_f8 = 3.141592653589793
    ds.att_empty = ""
    st.setncattr("station_count", np.int32(4))
    e.setncattr("flag_meanings", "clear cumulus stratus missing")
    ds.close()


def gen_netcdf_classic(name):
    ds = netCDF4.Dataset(name, "w", format="NETCDF4_CLASSIC")
    ds.Conventions = "CF-1.8"
    ds.title = "NETCDF4_CLASSIC data model in an HDF5 file"
    ds.createDimension("time", None)
    ds.createDimension("station", 5)
    ds.createDimension("name_strlen", 8)
    t = ds.createVariable("time", "f8", ("time",))
    t.units = "days since 1970-01-01"
    t.calendar = "gregorian"
    t.axis = "T"
    t[:] = np.arange(6, dtype="f8")
    n = ds.createVariable("station_name", "S1", ("station", "name_strlen"))
    n[:] = netCDF4.stringtochar(np.array([b"alpha", b"bravo", b"charlie", b"delta", b"echo"], "S8"))
    n.cf_role = "timeseries_id"
    p = ds.createVariable("precip", "f4", ("time", "station"), zlib=True, complevel=2,
                          fill_value=np.float32(-9999))
    p.units = "mm"
    p[:] = np.arange(30, dtype="f4").reshape(6, 5) / 10
    q = ds.createVariable("quality", "i1", ("time", "station"), fill_value=False)
    q[:] = np.ones((6, 5), "i1")
    ds.createVariable("elevation", "i2", ("station",), contiguous=True)[:] = [10, 20, 30, 40, 50]
    ds.close()


# --------------------------------------------------------------------------------------
# Truth: an independent reading of each file with h5py / netCDF4-python, plus a small
# structural parser (superblock, object headers, layout message) for things h5py
# does not expose.
# --------------------------------------------------------------------------------------

MSG_NAMES = {0x00: "nil", 0x01: "dataspace", 0x02: "link_info", 0x03: "datatype", 0x04: "fill_old",
             0x05: "fill", 0x06: "link", 0x07: "external_files", 0x08: "layout", 0x09: "bogus",
             0x0A: "group_info", 0x0B: "filter_pipeline", 0x0C: "attribute", 0x0D: "comment",
             0x0E: "mtime_old", 0x0F: "shared_message_table", 0x10: "continuation",
             0x11: "symbol_table", 0x12: "mtime", 0x13: "btree_k", 0x14: "driver_info",
             0x15: "attribute_info", 0x16: "refcount"}
CHUNK_INDEX = {1: "single_chunk", 2: "implicit", 3: "fixed_array", 4: "extensible_array",
               5: "btree_v2"}
INDEX_SIG = {"btree_v1": b"TREE", "fixed_array": b"FAHD", "extensible_array": b"EAHD",
             "btree_v2": b"BTHD"}


class RawFile:
    """Reads the HDF5 structures straight from the bytes."""

    def __init__(self, path):
        with open(path, "rb") as fh:
            self.b = fh.read()
        self.base = None
        off = 0
        while off < len(self.b):
            if self.b[off:off + 8] == b"\x89HDF\r\n\x1a\n":
                self.base = off
                break
            off = 512 if off == 0 else off * 2
        assert self.base is not None, path + ": no HDF5 signature"
        self.sb_version = self.b[self.base + 8]
        if self.sb_version in (0, 1):
            self.so, self.sl = self.b[self.base + 13], self.b[self.base + 14]
        else:
            self.so, self.sl = self.b[self.base + 9], self.b[self.base + 10]

    def u(self, pos, n):
        return int.from_bytes(self.b[pos:pos + n], "little")

    def header(self, addr):
        p = self.base + addr
        msgs, chunks = [], []
        if self.b[p:p + 4] == b"OHDR":
            version = self.b[p + 4]
            flags = self.b[p + 5]
            q = p + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
            n = 1 << (flags & 3)
            size = self.u(q, n)
            q += n
            todo = [(q, q + size)]
            mhdr = 4 + (2 if flags & 0x04 else 0)
            while todo:
                start, end = todo.pop(0)
                chunks.append(start)
                while start + mhdr <= end:
                    mtype, msize, mflags = self.b[start], self.u(start + 1, 2), self.b[start + 3]
                    data = self.b[start + mhdr:start + mhdr + msize]
                    msgs.append((mtype, mflags, data))
                    if mtype == 0x10:
                        ca, cl = self.u(start + mhdr, self.so), self.u(start + mhdr + self.so, self.sl)
                        cp = self.base + ca
                        assert self.b[cp:cp + 4] == b"OCHK"
                        todo.append((cp + 4, cp + cl - 4))
                    start += mhdr + msize
        else:
            version = self.b[p]
            assert version == 1, "unknown object header at %d" % addr
            size = self.u(p + 8, 4)
            todo = [(p + 16, p + 16 + size)]
            while todo:
                start, end = todo.pop(0)
                chunks.append(start)
                while start + 8 <= end:
                    mtype, msize, mflags = self.u(start, 2), self.u(start + 2, 2), self.b[start + 4]
                    data = self.b[start + 8:start + 8 + msize]
                    msgs.append((mtype, mflags, data))
                    if mtype == 0x10:
                        ca, cl = self.u(start + 8, self.so), self.u(start + 8 + self.so, self.sl)
                        todo.append((self.base + ca, self.base + ca + cl))
                    start += 8 + msize
        return {"version": version, "chunks": len(chunks), "messages": msgs}

    def header_summary(self, addr):
        h = self.header(addr)
        out = {"version": h["version"], "chunks": h["chunks"]}
        shared = sorted({MSG_NAMES.get(t, str(t)) for t, fl, _ in h["messages"] if fl & 0x02})
        if shared:
            out["shared_messages"] = shared
        return out, h

    def storage_kinds(self, h):
        """Link storage and attribute storage of an object, from its header messages."""
        types = [t for t, _, _ in h["messages"]]
        out = {}
        if 0x11 in types:
            out["link_storage"] = "symbol_table"
        for t, _, d in h["messages"]:
            if t == 0x02:
                fl = d[1]
                q = 2 + (8 if fl & 1 else 0)
                out["link_storage"] = "compact" if self.u_of(d, q) == UNDEF else "dense"
        nattr = types.count(0x0C)
        out["attr_storage"] = "compact" if nattr else "none"
        for t, _, d in h["messages"]:
            if t == 0x15:
                fl = d[1]
                q = 2 + (2 if fl & 1 else 0)
                if self.u_of(d, q) != UNDEF:
                    out["attr_storage"] = "dense"
        return out

    def u_of(self, d, q):
        """An address inside message bytes d (all ones = undefined -> UNDEF)."""
        v = int.from_bytes(d[q:q + self.so], "little")
        return UNDEF if v == (1 << 8 * self.so) - 1 else v

    def addr(self, pos):
        """An address at file position pos (all ones = undefined -> UNDEF)."""
        v = self.u(pos, self.so)
        return UNDEF if v == (1 << 8 * self.so) - 1 else v

    def layout(self, h):
        for t, _, d in h["messages"]:
            if t != 0x08:
                continue
            v = d[0]
            out = {"layout_version": v}
            if v in (1, 2):
                cls = d[2]
                if cls == 2:
                    out["chunk_index"] = "btree_v1"
                    out["chunk_index_addr"] = self.u_of(d, 8)
            elif v == 3:
                if d[1] == 2:
                    out["chunk_index"] = "btree_v1"
                    out["chunk_index_addr"] = self.u_of(d, 3)
            elif v == 4 and d[1] == 2:
                flags, ndims, enc = d[2], d[3], d[4]
                q = 5 + ndims * enc
                kind = CHUNK_INDEX[d[q]]
                q += 1
                out["chunk_index"] = kind
                params = {}
                if kind == "single_chunk" and flags & 2:
                    params["filtered_size"] = int.from_bytes(d[q:q + self.sl], "little")
                    params["filter_mask"] = int.from_bytes(d[q + self.sl:q + self.sl + 4], "little")
                    q += self.sl + 4
                elif kind == "fixed_array":
                    params["max_dblk_page_nelmts_bits"] = d[q]
                    q += 1
                elif kind == "extensible_array":
                    names = ["max_nelmts_bits", "index_blk_elmts", "data_blk_min_elmts_ptrs",
                             "data_blk_min_elmts", "max_dblk_page_nelmts_bits"]
                    params.update({n: d[q + i] for i, n in enumerate(names)})
                    params["sup_blk_min_data_ptrs"] = params.pop("data_blk_min_elmts_ptrs")
                    q += 5
                elif kind == "btree_v2":
                    params["node_size"] = int.from_bytes(d[q:q + 4], "little")
                    params["split_percent"], params["merge_percent"] = d[q + 4], d[q + 5]
                    q += 6
                if params:
                    out["chunk_index_params"] = params
                out["chunk_index_addr"] = self.u_of(d, q)
            kind = out.get("chunk_index")
            addr = out.get("chunk_index_addr")
            if kind in INDEX_SIG and addr is not None and addr != UNDEF:
                p = self.base + addr
                assert self.b[p:p + 4] == INDEX_SIG[kind], (kind, self.b[p:p + 4])
                if kind == "btree_v2":
                    out["btree_v2_record_type"] = self.b[p + 5]
            if addr == UNDEF:
                out["chunk_index_addr"] = None
            return out
        return {}


def _bit(bitmap, i):
    """Page-initialised bit i (H5VM_bit_get: most significant bit first)."""
    return bool(bitmap[i // 8] & (0x80 >> (i % 8)))


def _elements(rf, pos, n, elsize, filtered):
    out = []
    for i in range(n):
        q = pos + i * elsize
        addr = rf.addr(q)
        if filtered:
            csize = rf.u(q + rf.so, elsize - rf.so - 4)
            mask = rf.u(q + elsize - 4, 4)
        else:
            csize, mask = None, 0
        out.append(None if addr == UNDEF else (addr, csize, mask))
    return out


def parse_fixed_array(rf, addr):
    """All elements of a fixed-array chunk index, in linear order (None = unallocated).
    A second reading of the structure, checked against libhdf5 in chunk_list."""
    p = rf.base + addr
    assert rf.b[p:p + 4] == b"FAHD"
    client, elsize, bits = rf.b[p + 5], rf.b[p + 6], rf.b[p + 7]
    nelmts = rf.u(p + 8, rf.sl)
    dblk = rf.addr(p + 8 + rf.sl)
    info = {"num_elements": nelmts, "page_bits": bits}
    if dblk == UNDEF:
        return [None] * nelmts, info
    d = rf.base + dblk
    assert rf.b[d:d + 4] == b"FADB"
    q = d + 6 + rf.so
    page_n = 1 << bits
    if nelmts <= page_n:
        info["pages"] = 0
        return _elements(rf, q, nelmts, elsize, client == 1), info
    npages = (nelmts + page_n - 1) // page_n
    bitmap = rf.b[q:q + (npages + 7) // 8]
    q += (npages + 7) // 8 + 4  # bitmap, checksum
    info["pages"] = npages
    info["pages_initialised"] = [_bit(bitmap, i) for i in range(npages)]
    out = []
    for pg in range(npages):
        n = min(page_n, nelmts - pg * page_n)
        if _bit(bitmap, pg):
            out += _elements(rf, q, n, elsize, client == 1)
        else:
            out += [None] * n
        q += page_n * elsize + 4
    return out, info


def parse_extensible_array(rf, addr):
    """All elements of an extensible-array chunk index up to the largest index set."""
    p = rf.base + addr
    assert rf.b[p:p + 4] == b"EAHD"
    client, elsize, max_bits, iblk_n, dblk_min, sblk_min_ptrs, page_bits = rf.b[p + 5:p + 12]
    q = p + 12
    nsblks_created, _, ndblks_created, _, max_idx_set, _ = [rf.u(q + i * rf.sl, rf.sl) for i in range(6)]
    iblk = rf.addr(q + 6 * rf.sl)
    filtered = client == 1
    info = {"max_index_set": max_idx_set, "super_blocks_created": nsblks_created,
            "data_blocks_created": ndblks_created, "page_bits": page_bits}
    if iblk == UNDEF:
        return [], info
    # super block geometry (H5EA__hdr_init)
    nsblks = 1 + max_bits - (dblk_min.bit_length() - 1)
    sblk = []
    start_idx = start_dblk = 0
    for s in range(nsblks):
        ndblks = 1 << (s // 2)
        dn = (1 << ((s + 1) // 2)) * dblk_min
        sblk.append((ndblks, dn, start_idx, start_dblk))
        start_idx += ndblks * dn
        start_dblk += ndblks
    iblk_nsblks = 2 * (sblk_min_ptrs.bit_length() - 1)
    ndblk_addrs = 2 * (sblk_min_ptrs - 1)
    nsblk_addrs = nsblks - iblk_nsblks
    ib = rf.base + iblk
    assert rf.b[ib:ib + 4] == b"EAIB"
    q = ib + 6 + rf.so
    out = _elements(rf, q, iblk_n, elsize, filtered)
    q += iblk_n * elsize
    dblk_addrs = [rf.addr(q + i * rf.so) for i in range(ndblk_addrs)]
    q += ndblk_addrs * rf.so
    sblk_addrs = [rf.addr(q + i * rf.so) for i in range(nsblk_addrs)]
    off_size = (max_bits + 7) // 8
    page_n = 1 << page_bits
    npaged_dblks = 0

    def data_block(a, dn, page_init, first_bit):
        nonlocal npaged_dblks
        if a == UNDEF:
            return [None] * dn
        d = rf.base + a
        assert rf.b[d:d + 4] == b"EADB"
        q = d + 6 + rf.so + off_size
        if dn <= page_n:
            return _elements(rf, q, dn, elsize, filtered)
        npaged_dblks += 1
        q += 4  # checksum of the prefix; the pages follow
        res = []
        for pg in range((dn + page_n - 1) // page_n):
            n = min(page_n, dn - pg * page_n)
            res += _elements(rf, q, n, elsize, filtered) if _bit(page_init, first_bit + pg) else [None] * n
            q += page_n * elsize + 4
        return res

    total = max_idx_set
    s = 0
    while len(out) < total and s < nsblks:
        ndblks, dn, _, start_dblk = sblk[s]
        if s < iblk_nsblks:
            for k in range(ndblks):
                out += data_block(dblk_addrs[start_dblk + k], dn, b"", 0)
        else:
            sa = sblk_addrs[s - iblk_nsblks]
            if sa == UNDEF:
                out += [None] * (ndblks * dn)
            else:
                sp = rf.base + sa
                assert rf.b[sp:sp + 4] == b"EASB"
                q = sp + 6 + rf.so + off_size
                # page-init bits of all the super block's data blocks, packed: bit
                # (data block * pages per data block + page), in ndblks * ceil(pages/8) bytes
                npages = dn // page_n if dn > page_n else 0
                init = rf.b[q:q + ndblks * ((npages + 7) // 8)]
                q += len(init)
                addrs = [rf.addr(q + k * rf.so) for k in range(ndblks)]
                for k in range(ndblks):
                    out += data_block(addrs[k], dn, init, k * npages)
        s += 1
    info["paged_data_blocks"] = npaged_dblks
    return out[:total], info


_M32 = 0xFFFFFFFF


def _rot(x, k):
    return ((x << k) | (x >> (32 - k))) & _M32


def lookup3(data, initval=0):
    """Bob Jenkins' lookup3 hashlittle, the checksum of HDF5 metadata blocks."""
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & _M32
    i = 0
    while n > 12:
        a = (a + int.from_bytes(data[i:i + 4], "little")) & _M32
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & _M32
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & _M32
        a = (a - c) & _M32; a ^= _rot(c, 4); c = (c + b) & _M32
        b = (b - a) & _M32; b ^= _rot(a, 6); a = (a + c) & _M32
        c = (c - b) & _M32; c ^= _rot(b, 8); b = (b + a) & _M32
        a = (a - c) & _M32; a ^= _rot(c, 16); c = (c + b) & _M32
        b = (b - a) & _M32; b ^= _rot(a, 19); a = (a + c) & _M32
        c = (c - b) & _M32; c ^= _rot(b, 4); b = (b + a) & _M32
        n -= 12
        i += 12
    if n == 0:
        return c
    tail = bytes(data[i:i + n]) + b"\0" * (12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & _M32
    b = (b + int.from_bytes(tail[4:8], "little")) & _M32
    c = (c + int.from_bytes(tail[8:12], "little")) & _M32
    c ^= b; c = (c - _rot(b, 14)) & _M32
    a ^= c; a = (a - _rot(c, 11)) & _M32
    b ^= a; b = (b - _rot(a, 25)) & _M32
    c ^= b; c = (c - _rot(b, 16)) & _M32
    a ^= c; a = (a - _rot(c, 4)) & _M32
    b ^= a; b = (b - _rot(a, 14)) & _M32
    c ^= b; c = (c - _rot(b, 24)) & _M32
    return c


FIXED_TIME = 1577836800  # 2020-01-01T00:00:00Z


def normalize_times(path):
    """Set the timestamps of version-2 object headers that store them to FIXED_TIME and
    re-checksum the header, so that regenerating gives byte-identical files. (libhdf5
    stores times in objects h5py cannot turn them off for - the superblock extension,
    virtual datasets - and netCDF-C leaves them on for committed datatypes.)"""
    with open(path, "rb") as fh:
        b = bytearray(fh.read())
    fixed = struct.pack("<I", FIXED_TIME) * 4
    count = 0
    pos = b.find(b"OHDR")
    while pos >= 0:
        if b[pos + 4] == 2 and b[pos + 5] & 0x20:
            flags = b[pos + 5]
            q = pos + 6 + 16 + (4 if flags & 0x10 else 0)
            n = 1 << (flags & 3)
            end = q + n + int.from_bytes(b[q:q + n], "little")
            if end + 4 <= len(b) and lookup3(b[pos:end]) == int.from_bytes(b[end:end + 4], "little"):
                if b[pos + 6:pos + 22] != fixed:
                    b[pos + 6:pos + 22] = fixed
                    b[end:end + 4] = struct.pack("<I", lookup3(b[pos:end]))
                    count += 1
        pos = b.find(b"OHDR", pos + 4)
    if count:
        with open(path, "wb") as fh:
            fh.write(b)
    return count


def b64(x):
    return base64.b64encode(bytes(x)).decode()


def jfloat(x):
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def jstr(x):
    x = bytes(x)
    try:
        return x.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": b64(x)}


def jv(x, f):
    """JSON form of a value read by h5py (see README: truth format)."""
    if isinstance(x, h5py.RegionReference):
        if not x:
            return {"region_ref": None}
        obj = f[x]
        sp = h5r.get_region(x, f.id)
        sel = {h5s.SEL_NONE: "none", h5s.SEL_POINTS: "points", h5s.SEL_HYPERSLABS: "hyperslabs",
               h5s.SEL_ALL: "all"}[sp.get_select_type()]
        out = {"region_ref": obj.name, "ref_addr": h5o.get_info(obj.id).addr, "selection": sel,
               "npoints": int(sp.get_select_npoints())}
        if sel != "none":
            lo, hi = sp.get_select_bounds()
            out["bounds"] = [list(map(int, lo)), list(map(int, hi))]
        if sel == "points":
            out["points"] = sp.get_select_elem_pointlist().astype(int).tolist()
        return out
    if isinstance(x, h5py.Reference):
        if not x:
            return {"ref": None}
        obj = f[x]
        return {"ref": obj.name, "ref_addr": h5o.get_info(obj.id).addr}
    if isinstance(x, h5py.Empty):
        return {"empty": True}
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return jv(x[()], f)
        if x.dtype.kind == "V" and not x.dtype.names:
            return [jv(e, f) for e in x]
        return [jv(e, f) for e in x]
    if isinstance(x, np.void):
        if x.dtype.names:
            return {n: jv(x[n], f) for n in x.dtype.names}
        return {"b64": b64(x.tobytes())}
    if isinstance(x, (bytes, np.bytes_)):
        return jstr(x)
    if isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return jfloat(x)
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [jv(e, f) for e in x]
    raise TypeError("no JSON form for %r (%s)" % (x, type(x)))


ORDER = {h5t.ORDER_LE: "le", h5t.ORDER_BE: "be", h5t.ORDER_NONE: "none"}
PAD = {h5t.STR_NULLTERM: "nullterm", h5t.STR_NULLPAD: "nullpad", h5t.STR_SPACEPAD: "spacepad"}
CSET = {h5t.CSET_ASCII: "ascii", h5t.CSET_UTF8: "utf8"}


def tdesc(tid):
    """Describe an HDF5 datatype from libhdf5 itself (not from numpy)."""
    cls = tid.get_class()
    d = {}
    if cls == h5t.INTEGER:
        d = {"class": "integer", "size": tid.get_size(), "order": ORDER[tid.get_order()],
             "signed": tid.get_sign() == h5t.SGN_2, "precision": tid.get_precision(),
             "bit_offset": tid.get_offset()}
    elif cls == h5t.FLOAT:
        d = {"class": "float", "size": tid.get_size(), "order": ORDER[tid.get_order()],
             "precision": tid.get_precision()}
    elif cls == h5t.STRING:
        if tid.is_variable_str():
            d = {"class": "string", "variable": True}
        else:
            d = {"class": "string", "variable": False, "size": tid.get_size()}
        d["cset"] = CSET[tid.get_cset()]
        d["strpad"] = PAD[tid.get_strpad()]
    elif cls == h5t.COMPOUND:
        d = {"class": "compound", "size": tid.get_size(), "members": [
            {"name": tid.get_member_name(i).decode(), "offset": tid.get_member_offset(i),
             "type": tdesc(tid.get_member_type(i))} for i in range(tid.get_nmembers())]}
    elif cls == h5t.ENUM:
        base = tid.get_super()
        d = {"class": "enum", "size": tid.get_size(), "base": tdesc(base), "members": {}}
        for i in range(tid.get_nmembers()):
            d["members"][tid.get_member_name(i).decode()] = int(tid.get_member_value(i))
    elif cls == h5t.OPAQUE:
        d = {"class": "opaque", "size": tid.get_size(), "tag": tid.get_tag().decode()}
    elif cls == h5t.ARRAY:
        d = {"class": "array", "size": tid.get_size(), "dims": list(tid.get_array_dims()),
             "base": tdesc(tid.get_super())}
    elif cls == h5t.VLEN:
        d = {"class": "vlen", "base": tdesc(tid.get_super())}
    elif cls == h5t.REFERENCE:
        d = {"class": "reference", "size": tid.get_size(),
             "ref_type": "object" if tid.equal(h5t.STD_REF_OBJ) else "region"}
    elif cls == h5t.BITFIELD:
        d = {"class": "bitfield", "size": tid.get_size(), "order": ORDER[tid.get_order()]}
    elif cls == h5t.TIME:
        d = {"class": "time", "size": tid.get_size()}
    else:
        raise ValueError("unknown type class %d" % cls)
    if tid.committed():
        d["committed"] = h5i.get_name(tid).decode()
    return d


def dtype_truth(dtype, tid):
    return {"numpy": dtype.str, "kind": dtype.kind, "itemsize": dtype.itemsize, "hdf5": tdesc(tid)}


RAW_CLASSES = {h5t.INTEGER, h5t.FLOAT, h5t.ENUM, h5t.OPAQUE, h5t.ARRAY, h5t.BITFIELD}


def fixed_size(tid):
    """True when the type has no vlen/reference parts (its bytes are its value)."""
    cls = tid.get_class()
    if cls in (h5t.VLEN, h5t.REFERENCE):
        return False
    if cls == h5t.STRING:
        return not tid.is_variable_str()
    if cls == h5t.COMPOUND:
        return all(fixed_size(tid.get_member_type(i)) for i in range(tid.get_nmembers()))
    if cls == h5t.ARRAY:
        return fixed_size(tid.get_super())
    return True


def raw_read(objid, shape, tid):
    """The data bytes in the file's own datatype (memory type = file type, so libhdf5
    converts nothing: string padding, byte order and n-bit values stay as stored)."""
    arr = np.empty(tuple(shape) if shape else (), dtype=np.dtype("V%d" % tid.get_size()))
    if isinstance(objid, h5a.AttrID):
        objid.read(arr, mtype=tid)
    else:
        objid.read(h5s.ALL, h5s.ALL, arr, mtype=tid)
    return arr.tobytes()


def space_kind(sid):
    return {h5s.SCALAR: "scalar", h5s.SIMPLE: "simple", h5s.NULL: "null"}[sid.get_simple_extent_type()]


BIG_ATTR = 256  # attributes with more elements get value_head + raw_sha256


def attrs_truth(obj, f):
    out = {}
    for name in sorted(obj.attrs.keys()):
        aid = obj.attrs.get_id(name)
        tid = aid.get_type()
        sid = aid.get_space()
        kind = space_kind(sid)
        a = {"dataspace": kind, "shape": list(aid.shape) if kind == "simple" else None,
             "dtype": dtype_truth(aid.dtype, tid)}
        if tid.get_class() == h5t.OPAQUE:  # h5py cannot read tagged opaque data
            val = np.frombuffer(raw_read(aid, aid.shape, tid), dtype="V%d" % tid.get_size())
            val = val.reshape(aid.shape) if kind == "simple" else val[0]
        else:
            val = obj.attrs[name]
        big = kind == "simple" and int(np.prod(aid.shape)) > BIG_ATTR
        if big:  # a long array: its first values and hashes instead of every value
            a["value_head"] = jv(val.reshape(-1)[:8], f)
        else:
            a["value"] = jv(val, f)
        if kind != "null" and fixed_size(tid):
            raw = raw_read(aid, aid.shape, tid)
            if big:
                a["raw_sha256"] = hashlib.sha256(raw).hexdigest()
            else:
                a["raw_b64"] = b64(raw)
        out[name] = a
    return out


FILTER_NAMES = {h5z.FILTER_DEFLATE: "deflate", h5z.FILTER_SHUFFLE: "shuffle",
                h5z.FILTER_FLETCHER32: "fletcher32", h5z.FILTER_SZIP: "szip",
                h5z.FILTER_NBIT: "nbit", h5z.FILTER_SCALEOFFSET: "scaleoffset", 32000: "lzf"}
LAYOUTS = {h5d.COMPACT: "compact", h5d.CONTIGUOUS: "contiguous", h5d.CHUNKED: "chunked",
           h5d.VIRTUAL: "virtual"}
FILL_DEF = {h5d.FILL_VALUE_UNDEFINED: "undefined", h5d.FILL_VALUE_DEFAULT: "default",
            h5d.FILL_VALUE_USER_DEFINED: "user_defined"}
FILL_TIME = {h5d.FILL_TIME_ALLOC: "alloc", h5d.FILL_TIME_NEVER: "never", h5d.FILL_TIME_IFSET: "ifset"}
ALLOC_TIME = {h5d.ALLOC_TIME_EARLY: "early", h5d.ALLOC_TIME_LATE: "late", h5d.ALLOC_TIME_INCR: "incr",
              h5d.ALLOC_TIME_DEFAULT: "default"}

FULL_LIST_MAX = 1200  # above this many chunks: summary, samples and a hash instead of a list
BY_INDEX_MAX = 5000  # get_chunk_info(i) is quadratic in libhdf5 1.10: only below this


def chunk_line(c):
    return "%s %d %d %d\n" % (",".join(map(str, c["offset"])), c["addr"], c["size"], c["filter_mask"])


def parse_btree_v1_chunks(rf, addr, rank):
    """All chunk records of a version-1 B-tree chunk index (node type 1)."""
    out, depth, nodes = [], 0, 0
    todo = [addr]
    while todo:
        p = rf.base + todo.pop(0)
        assert rf.b[p:p + 4] == b"TREE" and rf.b[p + 4] == 1
        level, used = rf.b[p + 5], rf.u(p + 6, 2)
        depth = max(depth, level)
        nodes += 1
        q = p + 8 + 2 * rf.so
        ksize = 8 + 8 * (rank + 1)
        for i in range(used):
            size, mask = rf.u(q, 4), rf.u(q + 4, 4)
            off = [rf.u(q + 8 + 8 * k, 8) for k in range(rank)]
            child = rf.u(q + ksize, rf.so)
            if level == 0:
                out.append({"offset": off, "addr": rf.base + child, "size": size, "filter_mask": mask})
            else:
                todo.append(child)
            q += ksize + rf.so
    out.sort(key=lambda c: c["offset"])
    return out, {"btree_depth": depth, "btree_nodes": nodes}


def parsed_chunk_list(ds, rf, lay):
    """The chunk list read from the index by this script's own parser (v1 B-tree, fixed
    array, extensible array; None for the other indexes)."""
    kind, addr = lay.get("chunk_index"), lay.get("chunk_index_addr")
    if kind == "btree_v1" and addr is not None:
        cl, info = parse_btree_v1_chunks(rf, addr, len(ds.shape))
        return [c for c in cl if all(o < s for o, s in zip(c["offset"], ds.shape))], info
    if kind not in ("fixed_array", "extensible_array") or addr is None:
        return None, None
    if kind == "fixed_array":
        elems, info = parse_fixed_array(rf, addr)
    else:
        elems, info = parse_extensible_array(rf, addr)
    shape, ch, nd = ds.shape, ds.chunks, len(ds.shape)
    maxshape = [s if m is None else m for s, m in zip(shape, ds.maxshape)]
    order = list(range(nd))
    if kind == "extensible_array":  # the unlimited dimension is "swizzled" to the front
        u = [i for i, m in enumerate(ds.maxshape) if m is None][0]
        order = [u] + [i for i in range(nd) if i != u]
    maxgrid = [(maxshape[i] + ch[i] - 1) // ch[i] for i in order]
    full = int(np.prod(ch)) * ds.id.get_type().get_size()
    out = []
    for idx, e in enumerate(elems):
        if e is None:
            continue
        sw, r = [], idx
        for g in reversed(maxgrid[1:]):
            sw.append(r % g)
            r //= g
        sw.append(r)
        sw.reverse()
        scaled = [0] * nd
        for k, dim in enumerate(order):
            scaled[dim] = sw[k]
        off = [scaled[i] * ch[i] for i in range(nd)]
        if any(o >= s for o, s in zip(off, shape)):
            continue
        out.append({"offset": off, "addr": rf.base + e[0], "size": full if e[1] is None else e[1],
                    "filter_mask": e[2]})
    out.sort(key=lambda c: c["offset"])
    return out, info


def chunk_list(ds, rf, lay):
    """All allocated chunks, sorted by offset; addresses absolute (userblock included).
    Returns (list, note, index_info). note is set when libhdf5's chunk queries were
    wrong and the list was rebuilt by matching each chunk's stored bytes."""
    shape, ch = ds.shape, ds.chunks
    grid = [(s + c - 1) // c for s, c in zip(shape, ch)]
    total = int(np.prod(grid)) if grid else 1
    coords = [tuple(int(v) for v in co) for co in
              (np.indices(grid).reshape(len(grid), -1).T * np.array(ch))] if total else []
    n = ds.id.get_num_chunks()
    parsed, info = parsed_chunk_list(ds, rf, lay)
    note = None
    if parsed is not None and n > BY_INDEX_MAX:
        # H5Dget_chunk_info(_by_coord) walk the whole index in libhdf5 1.10 (quadratic
        # overall: hours for 1e5 chunks), so big datasets use the parsed list, checked
        # against libhdf5 on a spread of coordinates and, below, on every chunk's bytes.
        cl = parsed
        pick = sorted(set(list(range(0, len(cl), max(1, len(cl) // 150))) + [len(cl) - 1]))
        for i in pick:
            c = cl[i]
            info_ = ds.id.get_chunk_info_by_coord(tuple(c["offset"]))
            assert (rf.base + info_.byte_offset, info_.size, info_.filter_mask) == \
                (c["addr"], c["size"], c["filter_mask"]), (ds.name, c)
        note = None
    else:
        cl = []
        for co in coords:
            i_ = ds.id.get_chunk_info_by_coord(co)
            if i_.byte_offset is None:
                continue
            cl.append({"offset": list(co), "addr": rf.base + i_.byte_offset,
                       "size": int(i_.size), "filter_mask": int(i_.filter_mask)})
        if n <= BY_INDEX_MAX:
            by_index = []
            for i in range(n):
                i_ = ds.id.get_chunk_info(i)
                by_index.append({"offset": list(i_.chunk_offset), "addr": rf.base + i_.byte_offset,
                                 "size": int(i_.size), "filter_mask": int(i_.filter_mask)})
            by_index.sort(key=lambda c: c["offset"])
            if by_index != cl:
                # libhdf5 1.10.8: H5Dget_chunk_info / H5Dget_chunk_info_by_coord mishandle
                # extensible-array datasets whose unlimited dimension is not the first
                # (the index stores "swizzled" coordinates). Addresses and sizes from the
                # iteration are right; match each chunk (read_direct_chunk, which is
                # right) to the one address holding exactly its bytes.
                stored = {}
                for c in by_index:
                    stored.setdefault(rf.b[c["addr"]:c["addr"] + c["size"]], []).append(c)
                rebuilt = []
                for co in coords:
                    try:
                        mask, raw = ds.id.read_direct_chunk(co)
                    except Exception:
                        continue
                    cand = stored.get(bytes(raw), [])
                    assert len(cand) == 1, (ds.name, co, "chunk bytes not unique")
                    rebuilt.append({"offset": list(co), "addr": cand[0]["addr"],
                                    "size": cand[0]["size"], "filter_mask": mask})
                assert sorted(c["addr"] for c in rebuilt) == sorted(c["addr"] for c in by_index)
                cl = rebuilt
                note = ("libhdf5 1.10.8 get_chunk_info(_by_coord) report wrong coordinates for "
                        "this dataset; list rebuilt by matching chunk bytes (and by this script's "
                        "own extensible-array parser)")
        if parsed is not None:
            assert parsed == cl, (ds.name, "own fixed/extensible array parser disagrees")
    assert n == len(cl), (ds.name, n, len(cl))
    # the stored bytes at each address are the chunk libhdf5 reads
    for c in cl:
        mask, raw = ds.id.read_direct_chunk(tuple(c["offset"]))
        assert mask == c["filter_mask"], ds.name
        assert rf.b[c["addr"]:c["addr"] + c["size"]] == raw, (ds.name, c)
    return cl, note, info


def dataset_truth(ds, rf, f, path):
    info = h5o.get_info(ds.id)
    hsum, h = rf.header_summary(info.addr)
    dcpl = ds.id.get_create_plist()
    tid = ds.id.get_type()
    sid = ds.id.get_space()
    kind = space_kind(sid)
    t = {"object_addr": info.addr, "header": hsum, "dataspace": kind,
         "shape": list(ds.shape) if kind == "simple" else ([] if kind == "scalar" else None)}
    if kind == "simple":
        t["maxshape"] = [None if m is None else int(m) for m in ds.maxshape]
    t["dtype"] = dtype_truth(ds.dtype, tid)
    t.update(rf.storage_kinds(h))
    t.pop("link_storage", None)
    layout = LAYOUTS[dcpl.get_layout()]
    t["layout"] = layout
    t.update(rf.layout(h))
    filters = []
    for i in range(dcpl.get_nfilters()):
        code, flags, params, name = dcpl.get_filter(i)
        filters.append({"id": int(code), "name": FILTER_NAMES.get(code, name.decode()),
                        "hdf5_name": name.decode(), "flags": int(flags), "params": [int(p) for p in params]})
    t["filters"] = filters
    fd = dcpl.fill_value_defined()
    fill = {"defined": FILL_DEF[fd], "fill_time": FILL_TIME[dcpl.get_fill_time()],
            "alloc_time": ALLOC_TIME[dcpl.get_alloc_time()]}
    if fd != h5d.FILL_VALUE_UNDEFINED and fixed_size(tid) and ds.dtype.subdtype is None:
        arr = np.zeros((1,), dtype=ds.dtype)
        dcpl.get_fill_value(arr)
        fill["value"] = jv(arr[0], f)
        fill["raw_b64"] = b64(arr.tobytes())
    t["fill_value"] = fill
    t["storage_size"] = int(ds.id.get_storage_size())
    if layout == "contiguous":
        t["addr"] = ds.id.get_offset()
        t["size"] = t["storage_size"]
        if dcpl.get_external_count():
            t["external"] = [{"name": n.decode(), "offset": int(o), "size": int(s)}
                             for n, o, s in (dcpl.get_external(i) for i in range(dcpl.get_external_count()))]
    elif layout == "chunked":
        t["chunks"] = list(ds.chunks)
        cl, note, info = chunk_list(ds, rf, t)
        if note:
            t["chunk_list_note"] = note
        if info:
            t["chunk_index_info"] = info
        t["chunk_grid"] = [(s + c - 1) // c for s, c in zip(ds.shape, ds.chunks)]
        t["num_chunks"] = len(cl)
        t["chunk_list_sha256"] = hashlib.sha256("".join(map(chunk_line, cl)).encode()).hexdigest()
        if len(cl) <= FULL_LIST_MAX:
            t["chunk_list"] = cl
        else:
            pick = sorted(set(list(range(20)) + list(range(len(cl) - 20, len(cl))) +
                              list(range(0, len(cl), 997))))
            t["chunk_list_sample"] = [dict(index=i, **cl[i]) for i in pick]
            t["chunk_bytes_total"] = sum(c["size"] for c in cl)
            t["chunk_addr_min"] = min(c["addr"] for c in cl)
            t["chunk_addr_max"] = max(c["addr"] for c in cl)
        if t.get("chunk_index") == "single_chunk" and cl and "chunk_index_params" in t:
            assert t["chunk_index_params"]["filter_mask"] == cl[0]["filter_mask"]
    elif layout == "compact":
        t["size"] = t["storage_size"]
    elif layout == "virtual":
        t["virtual_sources"] = [{"file": dcpl.get_virtual_filename(i), "dataset": dcpl.get_virtual_dsetname(i)}
                                for i in range(dcpl.get_virtual_count())]
    # data: values of small datasets; a hash of the bytes of fixed-size ones
    if kind != "null":
        n = int(np.prod(ds.shape)) if kind == "simple" else 1
        if fixed_size(tid) and layout != "virtual" and not t.get("external"):
            raw = raw_read(ds.id, ds.shape, tid)
            t["data_sha256"] = hashlib.sha256(raw).hexdigest()
            if layout == "contiguous" and t["addr"] is not None:
                assert rf.b[t["addr"]:t["addr"] + t["size"]] == raw, path
            if layout == "compact":
                t["raw_b64"] = b64(raw)
        if n <= 64:
            if tid.get_class() == h5t.OPAQUE:  # h5py cannot read tagged opaque data
                val = np.frombuffer(raw_read(ds.id, ds.shape, tid), dtype="V%d" % tid.get_size())
                val = val.reshape(ds.shape) if kind == "simple" else val[0]
            elif h5py.check_string_dtype(ds.dtype) and h5py.check_string_dtype(ds.dtype).length is None:
                val = ds.asstr()[()]
            else:
                val = ds[()]
            t["values"] = jv(val, f)
    # dimension scales
    if kind == "simple":
        scales = []
        for dim in ds.dims:
            scales.append({"label": dim.label, "scales": [s.name for s in dim.values()]})
        if any(s["label"] or s["scales"] for s in scales):
            t["dims"] = scales
        if h5ds.is_scale(ds.id):
            t["is_scale"] = True
    t["attributes"] = attrs_truth(ds, f)
    return t


def file_truth(file_path, rf, netcdf_view=None):
    f = h5py.File(file_path, "r")
    fcpl = f.id.get_create_plist()
    sb = {"offset": rf.base, "version": rf.sb_version, "version_from_h5py": fcpl.get_version()[0],
          "userblock_size": int(fcpl.get_userblock()), "sizeof_addr": rf.so, "sizeof_size": rf.sl}
    assert sb["version"] == sb["version_from_h5py"]
    assert sb["userblock_size"] == rf.base
    groups, datasets, datatypes, soft, ext = {}, {}, {}, {}, {}
    aliases = {}
    root = f["/"]
    root_addr = h5o.get_info(root.id).addr
    visited = {root_addr: ""}
    queue = [("", root)]
    while queue:
        path, g = queue.pop(0)
        info = h5o.get_info(g.id)
        hsum, h = rf.header_summary(info.addr)
        gt = {"object_addr": info.addr, "header": hsum}
        gt.update(rf.storage_kinds(h))
        links = {}
        for name in sorted(g.keys()):
            full = path + "/" + name if path else name
            lk = g.get(name, getlink=True)
            if isinstance(lk, h5py.SoftLink):
                tgt = g.get(name)
                links[name] = {"type": "soft", "target": lk.path}
                soft[full] = {"target": lk.path,
                              "resolves_to": None if tgt is None else h5o.get_info(tgt.id).addr}
                continue
            if isinstance(lk, h5py.ExternalLink):
                links[name] = {"type": "external", "file": lk.filename, "path": lk.path}
                ext[full] = {"file": lk.filename, "path": lk.path}
                continue
            obj = g[name]
            oaddr = h5o.get_info(obj.id).addr
            if isinstance(obj, h5py.Group):
                links[name] = {"type": "hard", "object_type": "group", "object_addr": oaddr}
                if oaddr in visited:
                    aliases.setdefault(oaddr, []).append(full)
                else:
                    visited[oaddr] = full
                    queue.append((full, obj))
            elif isinstance(obj, h5py.Dataset):
                links[name] = {"type": "hard", "object_type": "dataset", "object_addr": oaddr}
                datasets[full] = dataset_truth(obj, rf, f, full)
            else:
                links[name] = {"type": "hard", "object_type": "datatype", "object_addr": oaddr}
                dsum, _ = rf.header_summary(oaddr)
                datatypes[full] = {"object_addr": oaddr, "header": dsum,
                                   "dtype": dtype_truth(obj.dtype, obj.id),
                                   "attributes": attrs_truth(obj, f)}
        gt["links"] = links
        gt["attributes"] = attrs_truth(g, f)
        groups[path] = gt
    for addr, paths in aliases.items():
        groups[visited[addr]]["hard_link_aliases"] = sorted(paths)
    by_addr = {}
    for p, d in datasets.items():
        by_addr.setdefault(d["object_addr"], []).append(p)
    for p, d in datasets.items():
        others = sorted(by_addr[d["object_addr"]])
        if len(others) > 1:
            d["hard_link_paths"] = others
    truth = {
        "file": os.path.basename(file_path),
        "file_size": len(rf.b),
        "generator": "testdata/gen_fixtures.py",
        "versions": {"h5py": h5py.version.version, "libhdf5": h5py.version.hdf5_version,
                     "netCDF4": netCDF4.__version__, "netcdf-c": netCDF4.__netcdf4libversion__,
                     "numpy": np.__version__},
        "superblock": sb,
        "groups": dict(sorted(groups.items())),
        "datasets": dict(sorted(datasets.items())),
        "datatypes": dict(sorted(datatypes.items())),
        "soft_links": dict(sorted(soft.items())),
        "external_links": dict(sorted(ext.items())),
    }
    f.close()
    if netcdf_view is not None:
        truth["netcdf"] = netcdf_view
    return truth


def nc_value(x):
    return jv(x, None)  # netCDF values hold no references: no file needed


def nc_group_view(g):
    out = {"dimensions": {}, "variables": {}, "attributes": {}, "types": {}, "groups": {}}
    for name, d in g.dimensions.items():
        out["dimensions"][name] = {"size": len(d), "unlimited": d.isunlimited()}
    for name in g.ncattrs():
        out["attributes"][name] = nc_value(g.getncattr(name))
    for name, ct in g.cmptypes.items():
        out["types"][name] = {"class": "compound", "dtype": str(ct.dtype),
                              "fields": [[n, str(ct.dtype.fields[n][0]), ct.dtype.fields[n][1]]
                                         for n in ct.dtype.names]}
    for name, et in g.enumtypes.items():
        out["types"][name] = {"class": "enum", "base": str(et.dtype),
                              "members": {k: int(v) for k, v in et.enum_dict.items()}}
    for name, vt in g.vltypes.items():
        out["types"][name] = {"class": "vlen", "base": str(vt.dtype)}
    for name, v in g.variables.items():
        vd = {"dimensions": list(v.dimensions), "shape": list(v.shape)}
        if v.dtype == str:
            vd["dtype"] = "string"
        else:
            vd["dtype"] = str(v.dtype)
        if hasattr(v.datatype, "name") and not isinstance(v.datatype, np.dtype):
            vd["user_type"] = v.datatype.name
        vd["chunking"] = v.chunking() if v.chunking() == "contiguous" else list(v.chunking())
        vd["filters"] = {k: val for k, val in v.filters().items() if val}
        vd["endian"] = v.endian()
        vd["attributes"] = {a: nc_value(v.getncattr(a)) for a in v.ncattrs()}
        if "_FillValue" in v.ncattrs():
            vd["_FillValue"] = nc_value(v.getncattr("_FillValue"))
        out["variables"][name] = vd
    for name, sub in g.groups.items():
        out["groups"][name] = nc_group_view(sub)
    return out


def netcdf_view(path):
    ds = netCDF4.Dataset(path, "r")
    ds.set_auto_mask(False)
    view = {"data_model": ds.data_model, "disk_format": ds.disk_format, "root": nc_group_view(ds)}
    ds.close()
    return view


# --------------------------------------------------------------------------------------
# Output: JSON with short containers on one line; gzip without timestamps.
# --------------------------------------------------------------------------------------


def dumps(x, indent=0, width=110):
    flat = json.dumps(x, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    if len(flat) + indent <= width or not isinstance(x, (dict, list)) or not x:
        return flat
    pad = " " * (indent + 1)
    if isinstance(x, dict):
        items = [pad + json.dumps(k, ensure_ascii=False) + ": " + dumps(v, indent + 1, width)
                 for k, v in x.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if all(not isinstance(v, (dict, list)) for v in x):
        return flat
    items = [pad + dumps(v, indent + 1, width) for v in x]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def write_truth(fixture_path, truth):
    name = os.path.basename(fixture_path) + ".truth.json"
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as fh:
        fh.write(dumps(truth) + "\n")


def gzip_to(src, dst):
    with open(src, "rb") as fi, open(dst, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fo:
            shutil.copyfileobj(fi, fo)


# --------------------------------------------------------------------------------------

def fixture(name, desc, libver=None, netcdf=False):
    """Write the truth file of a finished fixture."""
    ntimes = normalize_times(name)
    rf = RawFile(name)
    truth = file_truth(name, rf, netcdf_view(name) if netcdf else None)
    truth["description"] = desc
    truth["timestamps_normalized"] = ntimes
    truth["written_by"] = ("netCDF-C %s via netCDF4-python" % netCDF4.__netcdf4libversion__ if netcdf
                           else "h5py, libver bounds (%s, %s)" % tuple(libver))
    write_truth(name, truth)
    now = time.time()
    print("%-34s %9d bytes  superblock v%d  %5.1fs" % (os.path.basename(name), os.path.getsize(name),
                                                       rf.sb_version, now - _clock[0]))
    _clock[0] = now
    return truth


_clock = [time.time()]


def h5_fixture(name, libver, writer, desc, **kw):
    f = new_file(name, libver=libver, **kw)
    writer(f)
    f.close()
    if kw.get("userblock"):
        stamp_userblock(name, kw["userblock"])
    return fixture(name, desc, libver=libver)


EARLIEST = ("earliest", "latest")  # h5py libver="earliest"
LATEST = ("latest", "latest")      # h5py libver="latest" (= v110 with libhdf5 1.10)
V108 = ("v108", "v108")


def main():
    os.makedirs(OUT, exist_ok=True)
    os.chdir(OUT)  # external links / external storage use paths relative to the fixtures
    for fn in os.listdir("."):
        if re.search(r"\.(h5|nc|json|gz|bin)$", fn):
            os.remove(fn)

    h5_fixture("h5_extlink_target.h5", EARLIEST,
               lambda f: mkgroup(f, "target").create_dataset("data", data=np.arange(6, dtype="i4")),
               "target of the external links in h5_*_groups.h5 and h5_v108.h5")

    # the three content suites, once per library-version bound
    for lv, libver in (("earliest", EARLIEST), ("latest", LATEST)):
        latest = lv == "latest"
        h5_fixture("h5_%s_types.h5" % lv, libver, lambda f: write_types(f, latest),
                   "datatypes, dataspaces, committed types, attributes of every type")
        big_attr = 80000 if latest else 16000
        h5_fixture("h5_%s_groups.h5" % lv, libver, lambda f: write_groups(f, latest, big_attr),
                   "groups, links, cycles, link and attribute storage, header continuation "
                   "blocks, dimension scales")
        h5_fixture("h5_%s_layouts.h5" % lv, libver, lambda f: write_layouts(f, latest),
                   "filters, layouts, chunk indexes, fill values, resized datasets")

    h5_fixture("h5_v108.h5", V108, lambda f: (write_small_mixed(f), write_groups(f, True, 16000)),
               "superblock v2, v2 object headers, layout message v3 (v1 B-tree chunk index), "
               "link messages")
    h5_fixture("h5_sb1_istore_k.h5", EARLIEST, write_small_mixed,
               "superblock v1 (istore_k=4, sym_k=4/2): deep v1 B-trees for chunks and symbol tables",
               istore_k=4, sym_k=(4, 2))
    h5_fixture("h5_offsets4.h5", EARLIEST, write_small_mixed,
               "4-byte file addresses and lengths (sizeof_addr = sizeof_size = 4), superblock v0",
               sizes=(4, 4))
    h5_fixture("h5_userblock_512.h5", EARLIEST, write_small_mixed,
               "512-byte userblock (with text in it), superblock v0", userblock=512)
    h5_fixture("h5_userblock_1024.h5", LATEST, write_small_mixed,
               "1024-byte userblock (with text in it), superblock v3", userblock=1024)
    sohm_indexes = [(SHMESG_DTYPE | SHMESG_SDSPACE | SHMESG_FILL | SHMESG_PLINE, 1), (SHMESG_ATTR, 1)]
    h5_fixture("h5_sohm_list.h5", LATEST, write_sohm,
               "shared object header messages in list indexes (superblock v3)", sohm=sohm_indexes)
    h5_fixture("h5_sohm_btree.h5", EARLIEST, write_sohm,
               "shared object header messages in B-tree indexes, v1 object headers (superblock v2)",
               sohm=sohm_indexes, sohm_phase=(0, 0))

    for name, gen, desc in (
            ("nc4_basic.nc", gen_netcdf_basic, "realistic CF climate file: time (unlimited) / lat / "
             "lon, tas chunked (4, 18, 36) with zlib + shuffle"),
            ("nc4_groups.nc", gen_netcdf_groups, "nested groups, dimensions inherited from parent "
             "groups, dimension-only dims, several unlimited dims, many attributes"),
            ("nc4_types.nc", gen_netcdf_types, "big endian, char, string, compound, enum and vlen "
             "types, fill modes, filters, contiguous storage"),
            ("nc4_classic.nc", gen_netcdf_classic, "NETCDF4_CLASSIC format")):
        gen(name)
        fixture(name, desc, netcdf=True)

    # big files, committed gzip-compressed; the truth describes the decompressed file
    tmp = tempfile.mkdtemp(prefix="vzarr-fixtures-")
    try:
        for name, libver, shape, chunks, maxshape, desc in (
                ("h5_big_btree_v1.h5", EARLIEST, (100000,), (1,), None,
                 "100000 one-byte chunks in a v1 B-tree"),
                ("h5_big_fixed_array.h5", LATEST, (1000, 100), (1, 1), None,
                 "100000 one-byte chunks in a paged fixed array"),
                ("h5_big_extensible_array.h5", LATEST, (140000,), (1,), (None,),
                 "140000 one-byte chunks in an extensible array (paged data blocks from element "
                 "131060 on)")):
            p = os.path.join(tmp, name)
            f = new_file(p, libver=libver)
            write_big(f, shape, chunks, maxshape)
            f.close()
            truth = fixture(p, desc, libver=libver)
            truth["compressed_file"] = name + ".gz"
            write_truth(p, truth)
            gzip_to(p, name + ".gz")
            print("%-34s %9d bytes" % (name + ".gz", os.path.getsize(name + ".gz")))
    finally:
        shutil.rmtree(tmp)
    total = sum(os.path.getsize(fn) for fn in os.listdir("."))
    print("total %d bytes in %s" % (total, OUT))


if __name__ == "__main__":
    main()
