package stac_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/stac"
)

// sampleInfo is a small dataset: time, lat, lon and one data variable.
func sampleInfo() *stac.DatasetInfo {
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC)
	return &stac.DatasetInfo{
		Title: "sample",
		Dimensions: []stac.Dimension{
			{Name: "time", Size: 366, Axis: stac.AxisT, Start: &t0, End: &t1, Spacing: stac.SpacingRegular, TimeStep: "P1D"},
			{Name: "lat", Size: 10, Axis: stac.AxisY, Unit: "degrees_north", Extent: &[2]float64{40, 49}, Spacing: stac.SpacingRegular, Step: 1},
			{Name: "lon", Size: 10, Axis: stac.AxisX, Unit: "degrees_east", Extent: &[2]float64{0, 9}, Spacing: stac.SpacingIrregular,
				Values: []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9.5}},
		},
		Variables: []stac.Variable{
			{Name: "pr", Dims: []string{"time", "lat", "lon"}, Chunks: []int64{30, 10, 10}, DataType: "float32", Unit: "mm", Description: "precipitation", NoData: -9999.0},
			{Name: "time_bnds", Dims: []string{"time", "bnds"}, DataType: "float64", Auxiliary: true},
		},
		TimeRange: &stac.TimeRange{Start: t0, End: t1},
		BBox:      &stac.BBox{0, 40, 9, 49},
	}
}

func withBnds(info *stac.DatasetInfo) *stac.DatasetInfo {
	info.Dimensions = append(info.Dimensions, stac.Dimension{Name: "bnds", Size: 2})
	return info
}

// assertItemShape checks the STAC 1.1 required fields and their JSON types
// directly, besides the schema validation.
func assertItemShape(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, "Feature", m["type"])
	assert.Equal(t, "1.1.0", m["stac_version"])
	assert.IsType(t, "", m["id"])
	assert.NotEmpty(t, m["id"])
	assert.IsType(t, []any{}, m["stac_extensions"])
	assert.IsType(t, []any{}, m["links"])
	assert.IsType(t, map[string]any{}, m["assets"])
	require.Contains(t, m, "geometry")
	if m["geometry"] != nil {
		g := m["geometry"].(map[string]any)
		assert.Contains(t, []string{"Polygon", "MultiPolygon", "Point", "LineString"}, g["type"])
		bbox := m["bbox"].([]any)
		assert.Len(t, bbox, 4)
		for _, v := range bbox {
			assert.IsType(t, 0.0, v)
		}
	} else {
		assert.NotContains(t, m, "bbox")
	}
	p := m["properties"].(map[string]any)
	require.Contains(t, p, "datetime")
	if p["datetime"] == nil {
		assert.IsType(t, "", p["start_datetime"])
		assert.IsType(t, "", p["end_datetime"])
	} else {
		_, err := time.Parse(time.RFC3339, p["datetime"].(string))
		assert.NoError(t, err)
	}
	// stac_extensions lists exactly the extensions whose fields are used.
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				for prefix, ext := range map[string]string{"cube:": stac.DatacubeExtension,
					"xarray:": stac.XarrayAssetsExtension, "zarr:": stac.ZarrExtension} {
					if len(k) > len(prefix) && k[:len(prefix)] == prefix {
						used[ext] = true
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(map[string]any{"properties": p, "assets": m["assets"]})
	var listed []string
	for _, e := range m["stac_extensions"].([]any) {
		listed = append(listed, e.(string))
	}
	var usedList []string
	for e := range used {
		usedList = append(usedList, e)
	}
	assert.ElementsMatch(t, usedList, listed, "stac_extensions lists exactly the schemas used")
	dims := p["cube:dimensions"].(map[string]any)
	for name, d := range dims {
		dm := d.(map[string]any)
		assert.IsType(t, "", dm["type"], name)
		if dm["type"] == "spatial" && (dm["axis"] == "x" || dm["axis"] == "y") {
			ext := dm["extent"].([]any)
			assert.Len(t, ext, 2, name)
			assert.IsType(t, 0.0, ext[0], name)
		}
		if dm["type"] == "temporal" {
			assert.NotContains(t, dm, "axis")
			if s, ok := dm["step"]; ok && s != nil {
				assert.IsType(t, "", s, name)
			}
		}
	}
	if vars, ok := p["cube:variables"].(map[string]any); ok {
		for name, v := range vars {
			vm := v.(map[string]any)
			assert.IsType(t, []any{}, vm["dimensions"], name)
			assert.Contains(t, []any{"data", "auxiliary"}, vm["type"], name)
			for _, d := range vm["dimensions"].([]any) {
				assert.Contains(t, dims, d, "variable %s uses a described dimension", name)
			}
		}
	}
	return m
}

func TestBuildProperties(t *testing.T) {
	item, err := stac.Build(withBnds(sampleInfo()), stac.Options{DatasetID: "era5", ResourceID: "pr", Collection: "era5",
		RefURL: "abfs://refs@climatedata.dfs.core.windows.net/era5/pr.json", Created: created})
	require.NoError(t, err)
	raw := encode(t, item)
	require.NoError(t, validateItem(t, raw))
	m := assertItemShape(t, raw)

	assert.Equal(t, "era5-pr", item.ID)
	assert.Equal(t, "era5", item.Collection)
	assert.Equal(t, []string{stac.DatacubeExtension, stac.XarrayAssetsExtension, stac.ZarrExtension}, item.StacExtensions)
	p := m["properties"].(map[string]any)
	assert.Nil(t, p["datetime"])
	assert.Equal(t, "2020-01-01T00:00:00Z", p["start_datetime"])
	assert.Equal(t, "2020-12-31T00:00:00Z", p["end_datetime"])
	assert.Equal(t, "2025-01-02T03:04:05Z", p["created"])
	dims := p["cube:dimensions"].(map[string]any)
	assert.Equal(t, map[string]any{"type": "temporal", "extent": []any{"2020-01-01T00:00:00Z", "2020-12-31T00:00:00Z"}, "step": "P1D"}, dims["time"])
	assert.Equal(t, map[string]any{"type": "spatial", "axis": "y", "extent": []any{40.0, 49.0}, "step": 1.0,
		"unit": "degrees_north", "reference_system": 4326.0}, dims["lat"])
	lon := dims["lon"].(map[string]any)
	assert.Nil(t, lon["step"], "irregular: step null")
	assert.Contains(t, lon, "step")
	assert.Len(t, lon["values"], 10)
	vars := p["cube:variables"].(map[string]any)
	assert.Equal(t, map[string]any{"dimensions": []any{"time", "lat", "lon"}, "type": "data", "description": "precipitation",
		"unit": "mm", "nodata": -9999.0, "data_type": "float32", "zarr:chunks": []any{30.0, 10.0, 10.0}}, vars["pr"])
	assert.Equal(t, "auxiliary", vars["time_bnds"].(map[string]any)["type"])
	assert.NotContains(t, vars["time_bnds"], "zarr:chunks")

	a := item.Assets["references"]
	assert.Equal(t, "abfs://refs/era5/pr.json", a.Href, "the account goes to the options")
	assert.Equal(t, "application/json", a.Type)
	assert.Equal(t, []string{"references", "index"}, a.Roles)
	assert.Equal(t, map[string]any{
		"filename_or_obj": "reference://", "engine": "zarr",
		"storage_options": map[string]any{
			"fo":              "abfs://refs/era5/pr.json",
			"target_options":  map[string]any{"account_name": "climatedata"},
			"remote_protocol": "abfs",
			"remote_options":  map[string]any{"account_name": "climatedata"},
		},
	}, a.OpenKwargs)
	require.NotNil(t, a.ZarrConsolidated)
	assert.False(t, *a.ZarrConsolidated, "sampleInfo describes references without .zmetadata")
	assert.Equal(t, []stac.Link{{Rel: "collection", Href: "../collection.json", Type: "application/json"}}, item.Links)
}

// TestBuildConsolidated: references with .zmetadata are marked
// zarr:consolidated, and open_kwargs never force consolidated either way.
func TestBuildConsolidated(t *testing.T) {
	for _, consolidated := range []bool{false, true} {
		info := withBnds(sampleInfo())
		info.Consolidated = consolidated
		item, err := stac.Build(info, stac.Options{DatasetID: "d", RefURL: "/r.json", Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)})
		require.NoError(t, err)
		a := item.Assets["references"]
		require.NotNil(t, a.ZarrConsolidated)
		assert.Equal(t, consolidated, *a.ZarrConsolidated)
		assert.NotContains(t, a.OpenKwargs, "consolidated")
	}
}

func TestBuildDatetimes(t *testing.T) {
	instant := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		tr        *stac.TimeRange
		datetime  any
		start     string
		wantError bool
	}{
		{"range", &stac.TimeRange{Start: instant, End: instant.Add(time.Hour)}, nil, "2024-03-01T12:00:00Z", false},
		{"instant", &stac.TimeRange{Start: instant, End: instant}, "2024-03-01T12:00:00Z", "", false},
		{"no time: created", nil, "2025-01-02T03:04:05Z", "", false},
		{"reversed", &stac.TimeRange{Start: instant, End: instant.Add(-time.Hour)}, nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := sampleInfo()
			info.TimeRange = tc.tr
			info.Dimensions = info.Dimensions[1:]
			info.Variables = []stac.Variable{{Name: "v", Dims: []string{"lat", "lon"}}}
			item, err := stac.Build(info, stac.Options{DatasetID: "d", RefURL: "/r.json", Created: created})
			if tc.wantError {
				assert.ErrorIs(t, err, stac.ErrInvalid)
				return
			}
			require.NoError(t, err)
			raw := encode(t, item)
			require.NoError(t, validateItem(t, raw))
			p := assertItemShape(t, raw)["properties"].(map[string]any)
			assert.Equal(t, tc.datetime, p["datetime"])
			if tc.start != "" {
				assert.Equal(t, tc.start, p["start_datetime"])
			} else {
				assert.NotContains(t, p, "start_datetime")
			}
		})
	}
}

func TestBuildOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    stac.Options
		info    func(*stac.DatasetInfo)
		check   func(t *testing.T, item *stac.Item)
		wantErr bool
	}{
		{name: "id from dataset alone", opts: stac.Options{DatasetID: "d", RefURL: "/r.json"},
			check: func(t *testing.T, item *stac.Item) { assert.Equal(t, "d", item.ID) }},
		{name: "explicit id", opts: stac.Options{ID: "x", DatasetID: "d", ResourceID: "r", RefURL: "/r.json"},
			check: func(t *testing.T, item *stac.Item) { assert.Equal(t, "x", item.ID) }},
		{name: "no collection, no link", opts: stac.Options{DatasetID: "d", RefURL: "/r.json"},
			check: func(t *testing.T, item *stac.Item) { assert.Empty(t, item.Links); assert.Empty(t, item.Collection) }},
		{name: "collection href", opts: stac.Options{DatasetID: "d", Collection: "c", CollectionHref: "https://stac.example.org/collections/c", RefURL: "/r.json"},
			check: func(t *testing.T, item *stac.Item) {
				assert.Equal(t, "https://stac.example.org/collections/c", item.Links[0].Href)
			}},
		{name: "https href", opts: stac.Options{DatasetID: "d", RefURL: "abfs://refs/a b/x.json", Account: "acct", HrefStyle: stac.HrefHTTPS},
			check: func(t *testing.T, item *stac.Item) {
				a := item.Assets["references"]
				assert.Equal(t, "https://acct.blob.core.windows.net/refs/a%20b/x.json", a.Href)
				so := a.OpenKwargs["storage_options"].(map[string]any)
				assert.NotContains(t, so, "target_options", "https needs no account for the reference file")
				assert.Equal(t, map[string]any{"account_name": "acct"}, so["remote_options"])
			}},
		{name: "https input to abfs href", opts: stac.Options{DatasetID: "d", RefURL: "https://acct.blob.core.windows.net/refs/x.json"},
			check: func(t *testing.T, item *stac.Item) {
				assert.Equal(t, "abfs://refs/x.json", item.Assets["references"].Href)
			}},
		{name: "sovereign cloud domain", opts: stac.Options{DatasetID: "d", RefURL: "az://refs/x.json", Account: "acct",
			HrefStyle: stac.HrefHTTPS, BlobDomain: "blob.core.chinacloudapi.cn"},
			check: func(t *testing.T, item *stac.Item) {
				assert.Equal(t, "https://acct.blob.core.chinacloudapi.cn/refs/x.json", item.Assets["references"].Href)
			}},
		{name: "local reference file", opts: stac.Options{DatasetID: "d", RefURL: "file:///data/refs/x.json"},
			info: func(i *stac.DatasetInfo) { i.RemoteProtocol = "file" },
			check: func(t *testing.T, item *stac.Item) {
				so := item.Assets["references"].OpenKwargs["storage_options"].(map[string]any)
				assert.Equal(t, "/data/refs/x.json", so["fo"])
				assert.Equal(t, "file", so["remote_protocol"])
				assert.Equal(t, map[string]any{}, so["remote_options"])
			}},
		{name: "titiler default variable", opts: stac.Options{DatasetID: "d", RefURL: "/r.json",
			TiTiler: &stac.TiTiler{BaseURL: "https://t.example.org", Params: url.Values{"rescale": {"0,10"}}}},
			check: func(t *testing.T, item *stac.Item) {
				require.Len(t, item.Links, 1)
				l := item.Links[0]
				assert.Equal(t, "xyz", l.Rel)
				assert.Equal(t, "https://t.example.org/tiles/WebMercatorQuad/{z}/{x}/{y}.png?rescale=0%2C10&url=%2Fr.json&variable=pr", l.Href)
			}},
		{name: "titiler without x/y variable", opts: stac.Options{DatasetID: "d", RefURL: "/r.json", TiTiler: &stac.TiTiler{BaseURL: "https://t"}},
			info:  func(i *stac.DatasetInfo) { i.Variables = i.Variables[1:] },
			check: func(t *testing.T, item *stac.Item) { assert.Empty(t, item.Links) }},
		{name: "titiler unknown variable", opts: stac.Options{DatasetID: "d", RefURL: "/r.json", TiTiler: &stac.TiTiler{BaseURL: "https://t", Variable: "nope"}}, wantErr: true},
		{name: "no ids", opts: stac.Options{RefURL: "/r.json"}, wantErr: true},
		{name: "no ref url", opts: stac.Options{DatasetID: "d"}, wantErr: true},
		{name: "azure without account", opts: stac.Options{DatasetID: "d", RefURL: "abfs://refs/x.json"}, wantErr: true},
		{name: "https without account", opts: stac.Options{DatasetID: "d", RefURL: "abfs://refs/x.json", HrefStyle: stac.HrefHTTPS}, wantErr: true},
		{name: "bad href style", opts: stac.Options{DatasetID: "d", RefURL: "abfs://refs/x.json", Account: "a", HrefStyle: "s3"}, wantErr: true},
		{name: "undescribed dimension", opts: stac.Options{DatasetID: "d", RefURL: "/r.json"},
			info: func(i *stac.DatasetInfo) { i.Variables[0].Dims = []string{"time", "ens"} }, wantErr: true},
		{name: "bad bbox", opts: stac.Options{DatasetID: "d", RefURL: "/r.json"},
			info: func(i *stac.DatasetInfo) { i.BBox = &stac.BBox{0, 50, 1, 40} }, wantErr: true},
		{name: "no bbox: null geometry", opts: stac.Options{DatasetID: "d", RefURL: "/r.json"},
			info:  func(i *stac.DatasetInfo) { i.BBox = nil },
			check: func(t *testing.T, item *stac.Item) { assert.Nil(t, item.Geometry); assert.Nil(t, item.BBox) }},
		{name: "x/y extent from the box", opts: stac.Options{DatasetID: "d", RefURL: "/r.json"},
			info: func(i *stac.DatasetInfo) {
				i.Dimensions[1].Extent, i.Dimensions[2].Extent = nil, nil
				i.BBox = &stac.BBox{170, 40, -170, 49}
			},
			check: func(t *testing.T, item *stac.Item) {
				assert.Equal(t, []any{170.0, 190.0}, item.Properties.CubeDimensions["lon"].Extent)
				assert.Equal(t, []any{40.0, 49.0}, item.Properties.CubeDimensions["lat"].Extent)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info := withBnds(sampleInfo())
			if tc.info != nil {
				tc.info(info)
			}
			tc.opts.Created = created
			item, err := stac.Build(info, tc.opts)
			if tc.wantErr {
				assert.ErrorIs(t, err, stac.ErrInvalid)
				return
			}
			require.NoError(t, err)
			raw := encode(t, item)
			require.NoError(t, validateItem(t, raw))
			assertItemShape(t, raw)
			tc.check(t, item)
		})
	}
}

// TestSchemaRejects shows that the schema check catches broken items, so
// that its passing means something.
func TestSchemaRejects(t *testing.T) {
	item, err := stac.Build(withBnds(sampleInfo()), stac.Options{DatasetID: "d", Collection: "c", RefURL: "/r.json", Created: created})
	require.NoError(t, err)
	good := encode(t, item)
	require.NoError(t, validateItem(t, good))
	for name, mutate := range map[string]func(m map[string]any){
		"no cube:dimensions":      func(m map[string]any) { delete(props(m), "cube:dimensions") },
		"null datetime, no range": func(m map[string]any) { delete(props(m), "start_datetime"); delete(props(m), "end_datetime") },
		"datetime not UTC":        func(m map[string]any) { props(m)["created"] = "2025-01-02T03:04:05+01:00" },
		"temporal step a number":  func(m map[string]any) { dim(m, "time")["step"] = 1 },
		"spatial without extent":  func(m map[string]any) { delete(dim(m, "lat"), "extent") },
		"variable without dims": func(m map[string]any) {
			delete(props(m)["cube:variables"].(map[string]any)["pr"].(map[string]any), "dimensions")
		},
		"bad nodata": func(m map[string]any) {
			props(m)["cube:variables"].(map[string]any)["pr"].(map[string]any)["nodata"] = "none"
		},
		"unknown zarr field":      func(m map[string]any) { m["assets"].(map[string]any)["references"].(map[string]any)["zarr:chunks"] = 1 },
		"collection without link": func(m map[string]any) { m["links"] = []any{} },
		"bbox without geometry":   func(m map[string]any) { m["geometry"] = nil },
		"wrong stac_version":      func(m map[string]any) { m["stac_version"] = "1.0.0" },
		"asset without href":      func(m map[string]any) { delete(m["assets"].(map[string]any)["references"].(map[string]any), "href") },
		"open_kwargs not an object": func(m map[string]any) {
			m["assets"].(map[string]any)["references"].(map[string]any)["xarray:open_kwargs"] = "x"
		},
	} {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(good, &m))
			mutate(m)
			raw, err := json.Marshal(m)
			require.NoError(t, err)
			assert.Error(t, validateItem(t, raw))
		})
	}
}

func props(m map[string]any) map[string]any { return m["properties"].(map[string]any) }

func dim(m map[string]any, name string) map[string]any {
	return props(m)["cube:dimensions"].(map[string]any)[name].(map[string]any)
}

// TestBuildIcechunk: with Options.Icechunk the item's data asset is the
// repository, as xpystac reads a virtual Icechunk asset (media type,
// roles, the snapshot as version), linked to an asset per source folder;
// Azure locations name their account in a storage scheme.
func TestBuildIcechunk(t *testing.T) {
	for _, tc := range []struct {
		name, repo, source string
		opts               stac.Options
		href               string
		schemes            map[string]any
		repoRefs           []any
	}{
		{name: "local", repo: "/data/refs/era5/daily/repo.icechunk", source: "file:///data/era5/",
			href: "/data/refs/era5/daily/repo.icechunk"},
		{name: "azure", repo: "abfs://silver/refs/era5/daily/repo.icechunk", source: "az://bronze/era5/",
			opts: stac.Options{Account: "rmhazuregeosilver"}, href: "abfs://silver/refs/era5/daily/repo.icechunk",
			schemes: map[string]any{"azure-rmhazuregeosilver": map[string]any{"type": "ms-azure",
				"platform": "https://{account}.blob.core.windows.net", "account": "rmhazuregeosilver"}},
			repoRefs: []any{"azure-rmhazuregeosilver"}},
		{name: "azure https", repo: "abfs://silver/refs/r.icechunk", source: "az://bronze/era5/",
			opts: stac.Options{Account: "acct", HrefStyle: stac.HrefHTTPS}, href: "https://acct.blob.core.windows.net/silver/refs/r.icechunk",
			schemes: map[string]any{"azure-acct": map[string]any{"type": "ms-azure",
				"platform": "https://{account}.blob.core.windows.net", "account": "acct"}},
			repoRefs: []any{"azure-acct"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.DatasetID, opts.RefURL = "era5", tc.repo
			opts.Icechunk = &stac.Icechunk{SnapshotID: "YTNGFY4WY9189GEH1FNG", Tag: "rel-1", Sources: []string{tc.source}}
			item, err := stac.Build(withBnds(sampleInfo()), opts)
			require.NoError(t, err)
			raw, err := json.Marshal(item)
			require.NoError(t, err)
			require.NoError(t, validateItem(t, raw))
			m := assertItemShape(t, raw)
			assets := m["assets"].(map[string]any)
			assert.NotContains(t, assets, stac.ReferencesAssetKey)
			a := assets[stac.IcechunkAssetKey].(map[string]any)
			assert.Equal(t, tc.href, a["href"])
			assert.Equal(t, "application/vnd.zarr+icechunk", a["type"])
			assert.Equal(t, []any{"data", "references", "virtual"}, a["roles"])
			assert.Equal(t, "YTNGFY4WY9189GEH1FNG", a["version"])
			assert.Equal(t, "YTNGFY4WY9189GEH1FNG", a["icechunk:snapshot_id"])
			assert.Equal(t, "rel-1", a["icechunk:tag"])
			assert.Equal(t, 3.0, a["zarr:zarr_format"])
			assert.Equal(t, false, a["zarr:consolidated"])
			assert.Equal(t, map[string]any{"engine": "zarr", "zarr_format": 3.0, "consolidated": false, "chunks": map[string]any{}}, a["xarray:open_kwargs"])
			assert.Equal(t, []any{map[string]any{"key": "source", "href": "#/assets/source"}}, a["vrt:hrefs"])
			src := assets["source"].(map[string]any)
			assert.Equal(t, tc.source, src["href"])
			if tc.schemes == nil {
				assert.NotContains(t, a, "storage:refs")
				assert.NotContains(t, props(m), "storage:schemes")
				assert.NotContains(t, src, "storage:refs")
			} else {
				assert.Equal(t, tc.repoRefs, a["storage:refs"])
				assert.Equal(t, tc.schemes, props(m)["storage:schemes"])
				assert.Equal(t, tc.repoRefs, src["storage:refs"], "the sources are in the same account")
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		for name, opts := range map[string]stac.Options{
			"no snapshot":      {DatasetID: "x", RefURL: "/r.icechunk", Icechunk: &stac.Icechunk{}},
			"no azure account": {DatasetID: "x", RefURL: "abfs://c/r.icechunk", Icechunk: &stac.Icechunk{SnapshotID: "S"}},
		} {
			_, err := stac.Build(withBnds(sampleInfo()), opts)
			assert.ErrorIs(t, err, stac.ErrInvalid, name)
		}
	})
}
