// Package netcdf4 is the netCDF-4 data model of an HDF5 file as netCDF-C
// presents it: groups, dimensions (dimension scales and phony
// dimensions), variables with named dimensions, coordinate variables and
// attributes without netCDF-C's bookkeeping. It reads nothing itself: New
// builds the model from a file opened with package hdf5meta.
//
// It is the one netCDF-4 view of the module: the validation report
// (package validate, `vzarr inspect`) and the kerchunk translation
// (package kerchunk, `vzarr ref`) both name variables and dimensions from
// it, so that they describe the same dataset.
//
// # Naming rules
//
// They are netCDF-C's (libhdf5/hdf5open.c), as netCDF4-python and
// xarray's netcdf4 engine show them:
//
//   - Groups are read parent first, each group's links in creation order
//     when the file tracks it, else in name order; child groups after all
//     the group's own links.
//   - A dimension scale is a dimension named after its link (without the
//     "_nc4_non_coord_" prefix), with the id in its _Netcdf4Dimid
//     attribute, else the next free id. A scale whose NAME starts with
//     "This is a netCDF dimension but not a netCDF variable" is a
//     dimension only; any other scale is also its coordinate variable.
//   - A variable's dimensions are the ids in _Netcdf4Coordinates, else the
//     scales attached in DIMENSION_LIST (the last one of an axis wins).
//   - Axes with neither get phony dimensions, groups matched children
//     first, each group's variables in order: an axis takes the first
//     dimension of its own group (real or phony) of the same length and
//     unlimitedness that no earlier axis of the variable uses, else a new
//     dimension "phony_dim_N", N being the next file-wide dimension id.
//     The dimensions of an HDF5 array datatype are axes too, after the
//     dataset's.
//
// Beyond netCDF-C, so that every dataset can be described and translated:
// datasets whose datatype netCDF-C cannot show (compound, enum, opaque,
// variable-length and reference types that are not committed, and arrays
// of those) are variables too, marked Var.HDF5Only; their phony dimensions
// are given after all of netCDF-C's, so the names netCDF-C shows never
// change. Soft links to datasets are variables (netCDF-C follows them); a
// group reached again through another hard link is empty.
package netcdf4
