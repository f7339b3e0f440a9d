// judge.cjs: the official Icechunk library (npm @earthmover/icechunk) as the judge
// of repositories vzarr writes, and as a writer of repositories vzarr must read.
//
//   node judge.cjs read  REPO_DIR URL_PREFIX [with-config]
//       open REPO_DIR authorising the virtual chunk container URL_PREFIX
//       (file:///...); with "with-config" the container is also passed in the
//       open config (for repos whose stored config does not declare it). Prints
//       JSON: branches, tags, the snapshot ids of main and of every tag, and for
//       main and for every tag every key with its bytes (base64); the ancestry
//       of main (id, parent, message) and the diff from the first snapshot to
//       main (which the library computes from the transaction logs).
//   node judge.cjs tag REPO_DIR URL_PREFIX NAME
//       try to open tag NAME: prints JSON {tags, lookup, lookupError,
//       sessionError} (the tags listed, the snapshot id the tag resolves
//       to or null, and the errors of resolving it and of a read-only
//       session on it, null when they succeed).
//   node judge.cjs read-azure ACCOUNT CONTAINER PREFIX SOURCE_ACCOUNT URL_PREFIX
//       the same report for a repository in Azurite (Storage.newAzureBlob with
//       use_emulator) whose virtual chunks are in the Azure container
//       URL_PREFIX (az://CONTAINER/DIR/) of SOURCE_ACCOUNT in Azurite; the
//       account keys come in ICECHUNK_AZ_KEY and ICECHUNK_AZ_SRC_KEY.
//   node judge.cjs write REPO_DIR URL_PREFIX SOURCE_FILE
//       create a repo with a group, an array with a virtual chunk (bytes 0..8 of
//       SOURCE_FILE) and an inline chunk, commit to main, tag v1, print the ids.
//   node judge.cjs write-many REPO_DIR URL_PREFIX SOURCE_FILE N
//       create a repo whose array /v has N one-byte virtual chunks, chunk i at
//       byte i of SOURCE_FILE (enough refs for the library to compress the
//       locations of its manifest), commit to main, print the snapshot id.
//   node judge.cjs write-plan REPO_DIR URL_PREFIX PLAN_JSON
//       create a repo from a plan file {"meta": {key: zarr.json text},
//       "virtual": [{key, location, offset, length}], "inline": {key: base64}}:
//       every zarr.json set, every virtual ref set, every inline chunk set, one
//       commit to main; print the snapshot id.
//
// ICECHUNK_JS_DIR names the directory whose node_modules holds the package.
'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');
const req = createRequire(path.join(process.env.ICECHUNK_JS_DIR || process.cwd(), 'package.json'));
const { Repository, Storage } = req('@earthmover/icechunk');

function container(prefix) {
  const dir = new URL(prefix).pathname;
  return { [prefix]: { urlPrefix: prefix, store: { type: 'LocalFileSystem', field0: dir } } };
}

async function read(dir, prefix, withConfig) {
  const storage = await Storage.newLocalFilesystem(dir);
  const config = withConfig ? { virtualChunkContainers: container(prefix) } : undefined;
  return report(await Repository.open(storage, config, { [prefix]: null }));
}

// azureKey is a static account-key credential.
function azureKey(key) {
  return { type: 'Static', field0: { type: 'AccessKey', field0: key } };
}

// readAzure opens a repository in Azurite (the emulator's endpoint,
// http://127.0.0.1:10000/ACCOUNT) whose virtual chunks live in Azurite too.
async function readAzure(account, cont, prefix, srcAccount, srcPrefix) {
  const emu = { use_emulator: 'true' };
  const storage = await Storage.newAzureBlob(account, cont, prefix, azureKey(process.env.ICECHUNK_AZ_KEY), emu);
  // The stored container names the account only; the emulator endpoint is
  // this reader's setting, given in the open config.
  const config = { virtualChunkContainers: { [srcPrefix]: { urlPrefix: srcPrefix, store: { type: 'Azure', field0: { account: srcAccount, ...emu } } } } };
  return report(await Repository.open(storage, config, { [srcPrefix]: { type: 'Azure', field0: azureKey(process.env.ICECHUNK_AZ_SRC_KEY) } }));
}

async function report(repo) {
  const out = { branches: (await repo.listBranches()).sort(), tags: (await repo.listTags()).sort(), refs: {}, keys: {}, tagKeys: {} };
  out.refs.main = await repo.lookupBranch('main');
  for (const t of out.tags) out.refs[t] = await repo.lookupTag(t);
  out.keys = await readAll(await repo.readonlySession({ branch: 'main' }));
  for (const t of out.tags) out.tagKeys[t] = await readAll(await repo.readonlySession({ tag: t }));
  const ancestry = await repo.ancestry({ branch: 'main' });
  out.ancestry = ancestry.map((s) => ({ id: s.id, parentId: s.parentId || null, message: s.message }));
  const first = ancestry[ancestry.length - 1].id;
  const d = await repo.diff({ fromSnapshotId: first, toBranch: 'main' });
  const chunks = {};
  const uc = d.updatedChunks instanceof Map ? Object.fromEntries(d.updatedChunks) : d.updatedChunks;
  for (const [k, v] of Object.entries(uc || {})) chunks[k] = Array.from(v).map((c) => Array.from(c));
  out.diff = {
    newGroups: [...d.newGroups].sort(), newArrays: [...d.newArrays].sort(),
    updatedGroups: [...d.updatedGroups].sort(), updatedArrays: [...d.updatedArrays].sort(),
    updatedChunks: chunks,
  };
  return out;
}

async function tag(dir, prefix, name) {
  const storage = await Storage.newLocalFilesystem(dir);
  const repo = await Repository.open(storage, undefined, { [prefix]: null });
  const out = { tags: (await repo.listTags()).sort(), lookup: null, lookupError: null, sessionError: null };
  try { out.lookup = await repo.lookupTag(name); } catch (e) { out.lookupError = String(e && e.message ? e.message : e); }
  try { await repo.readonlySession({ tag: name }); } catch (e) { out.sessionError = String(e && e.message ? e.message : e); }
  return out;
}

async function readAll(session) {
  const store = session.store;
  const out = {};
  for (const k of (await store.list()).sort()) {
    const v = await store.get(k);
    out[k] = v === null ? null : Buffer.from(v).toString('base64');
  }
  return out;
}

async function write(dir, prefix, source) {
  const storage = await Storage.newLocalFilesystem(dir);
  const repo = await Repository.create(storage, { virtualChunkContainers: container(prefix) }, undefined, { [prefix]: null });
  const session = await repo.writableSession('main');
  const store = session.store;
  const group = { zarr_format: 3, node_type: 'group', attributes: { title: 'judge' } };
  const array = {
    zarr_format: 3, node_type: 'array', shape: [4], data_type: 'uint16',
    chunk_grid: { name: 'regular', configuration: { chunk_shape: [2] } },
    chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
    fill_value: 0, codecs: [{ name: 'bytes', configuration: { endian: 'little' } }],
    dimension_names: ['x'], attributes: {},
  };
  await store.set('zarr.json', Buffer.from(JSON.stringify(group)));
  await store.set('x/zarr.json', Buffer.from(JSON.stringify(array)));
  await store.setVirtualRef('x/c/0', new URL(source, 'file://').href, 0, 4, null, null, true);
  await store.set('x/c/1', Buffer.from([7, 0, 8, 0]));
  const snap = await session.commit('written by the official library');
  await repo.createTag('v1', snap);
  return { snapshot: snap };
}

async function writeMany(dir, prefix, source, n) {
  const storage = await Storage.newLocalFilesystem(dir);
  const repo = await Repository.create(storage, { virtualChunkContainers: container(prefix) }, undefined, { [prefix]: null });
  const session = await repo.writableSession('main');
  const store = session.store;
  await store.set('zarr.json', Buffer.from(JSON.stringify({ zarr_format: 3, node_type: 'group', attributes: {} })));
  await store.set('v/zarr.json', Buffer.from(JSON.stringify({
    zarr_format: 3, node_type: 'array', shape: [n], data_type: 'uint8',
    chunk_grid: { name: 'regular', configuration: { chunk_shape: [1] } },
    chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
    fill_value: 0, codecs: [{ name: 'bytes' }], attributes: {},
  })));
  const url = new URL(source, 'file://').href;
  const chunks = [];
  for (let i = 0; i < n; i++) chunks.push({ index: [i], location: url, offset: i, length: 1 });
  await store.setVirtualRefs('v', chunks, true);
  return { snapshot: await session.commit('many virtual refs') };
}

async function writePlan(dir, prefix, planFile) {
  const plan = JSON.parse(require('node:fs').readFileSync(planFile, 'utf8'));
  const storage = await Storage.newLocalFilesystem(dir);
  const repo = await Repository.create(storage, { virtualChunkContainers: container(prefix) }, undefined, { [prefix]: null });
  const session = await repo.writableSession('main');
  const store = session.store;
  const metaKeys = Object.keys(plan.meta).sort((a, b) => a.split('/').length - b.split('/').length);
  for (const k of metaKeys) await store.set(k, Buffer.from(plan.meta[k]));
  for (const v of plan.virtual) await store.setVirtualRef(v.key, v.location, v.offset, v.length, null, null, true);
  for (const [k, b64] of Object.entries(plan.inline)) await store.set(k, Buffer.from(b64, 'base64'));
  return { snapshot: await session.commit('written by the official library from a plan') };
}

(async () => {
  const [mode, dir, prefix, arg, n] = process.argv.slice(2);
  let out;
  if (mode === 'write') out = await write(dir, prefix, arg);
  else if (mode === 'write-many') out = await writeMany(dir, prefix, arg, Number(n));
  else if (mode === 'read-azure') out = await readAzure(...process.argv.slice(3));
  else if (mode === 'write-plan') out = await writePlan(dir, prefix, arg);
  else if (mode === 'tag') out = await tag(dir, prefix, arg);
  else out = await read(dir, prefix, arg === 'with-config');
  process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => { console.error(e && e.stack ? e.stack : String(e)); process.exit(1); });
