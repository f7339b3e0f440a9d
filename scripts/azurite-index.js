// Preloaded into Azurite by scripts/azurite (NODE_OPTIONS=--require): makes
// its in-memory metadata store (LokiJS) look a blob up by its name instead
// of scanning every blob of the account.
//
// Why: Azurite finds a blob with a query such as
// {accountName, containerName, name, snapshot}. LokiJS turns the keys of a
// query object into an $and in their order and uses a binary index for the
// first key only; the others filter the rows the first one left, one by
// one. The first key is accountName, so every GET, PUT and listing of a
// blob walks all the blobs of its account: measured with
// `internal/archivebench -azcost`, a GET costs 2.5 ms of Azurite CPU with
// 100 blobs in the account and 11 ms with 10,000, and that, not vzarr, set
// the wall time of the 10,000-file archive benchmark.
//
// What: before LokiJS runs a query object, its keys are put in this order:
// the keys with an equality value (a string or number) and a binary index
// of the collection, most selective first (blobName, name, containerName,
// accountName), then the rest in their order. An $and is commutative, so
// every query finds the same documents; only the index used changes. A key
// whose value is an operator ({$regex: ...}, as listings use for the
// prefix) keeps its place after them.
//
// The patch does nothing when LokiJS is not where scripts/azurite installs
// it or its Resultset.find is not what this file expects.
"use strict";

const path = process.env.VZARR_AZURITE_LOKI;
let loki;
try {
  loki = require(path);
} catch (e) {
  loki = undefined;
}
const rs = loki && loki.Resultset && loki.Resultset.prototype;
if (rs && typeof rs.find === "function" && !rs.find.vzarrIndexed) {
  const selective = ["blobName", "name", "containerName", "accountName"];
  const find = rs.find;
  const indexedFind = function (query, firstOnly) {
    if (query && typeof query === "object" && !Array.isArray(query) && !this.filterInitialized) {
      const keys = Object.keys(query);
      const indices = (this.collection && this.collection.binaryIndices) || {};
      const eq = (k) => indices[k] !== undefined && (typeof query[k] === "string" || typeof query[k] === "number");
      if (keys.length > 1 && !keys.some((k) => k[0] === "$")) {
        const first = selective.filter((k) => keys.includes(k) && eq(k));
        if (first.length > 0 && first[0] !== keys[0]) {
          const ordered = {};
          for (const k of first) ordered[k] = query[k];
          for (const k of keys) if (!(k in ordered)) ordered[k] = query[k];
          query = ordered;
        }
      }
    }
    return find.call(this, query, firstOnly);
  };
  indexedFind.vzarrIndexed = true;
  rs.find = indexedFind;
  console.error("vzarr azurite-index.js: LokiJS queries look blobs up by name");
} else if (!(rs && rs.find && rs.find.vzarrIndexed)) {
  console.error("vzarr azurite-index.js: LokiJS not found at " + path + " or not as expected; not patched");
}
