// Package stac builds STAC 1.1 Items for virtual (kerchunk) datasets.
//
// An Item describes one combined reference file: its id and collection,
// its spatial extent as bbox and geometry (a box crossing the antimeridian
// becomes a MultiPolygon, RFC 7946 §3.1.9), its time range as
// start_datetime/end_datetime, the datacube extension (v2.3.0) with
// cube:dimensions and cube:variables (each data variable with its Zarr
// chunk shape, zarr:chunks), and a "references" asset whose
// xarray:open_kwargs open the reference file as it is:
//
//	xr.open_dataset(**item["assets"]["references"]["xarray:open_kwargs"])
//
// The open kwargs name the storage account (remote_options/target_options
// account_name) and never a secret; credentials come from the reader's
// environment (adlfs uses DefaultAzureCredential).
//
// An Item may instead describe a snapshot of an Icechunk repository
// (Options.Icechunk): its "icechunk" asset follows the virtual-Icechunk
// convention xpystac reads — media type application/vnd.zarr+icechunk,
// roles data/references/virtual, the snapshot id as "version" (and as
// icechunk:snapshot_id, with the tag as icechunk:tag), xarray:open_kwargs
// for the session's store (engine zarr, zarr_format 3), and vrt:hrefs to
// a "source" asset per virtual chunk container (the URL prefix a reader
// authorises). Azure locations name their account in a storage extension
// scheme (storage:schemes in the properties, storage:refs on the assets;
// type ms-azure). A reader opens it with icechunk:
//
//	repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access={src["href"]: None})
//	session = repo.readonly_session(snapshot_id=asset["icechunk:snapshot_id"])
//	xr.open_dataset(session.store, **asset["xarray:open_kwargs"])
//
// The input is a DatasetInfo: dimensions with their coordinate summaries,
// variables with dims, units, long_name, no-data value and chunks, the
// time range and the box. FromReferences makes one from a kerchunk
// reference set (reading .zarray/.zattrs, and the coordinates with package
// refread, inline or through a RangeReader; times are decoded with
// internal/cftime), so that any reference file can be described; a combine
// stage may also fill one itself. Build turns it into an Item.
package stac
