-- The Asset/Release catalog and the pipeline's jobs and tasks.
-- Runs with search_path set to the catalog's schema (see Migrate).

CREATE TABLE assets (
    id          text PRIMARY KEY,
    dataset_id  text NOT NULL CHECK (dataset_id <> ''),
    resource_id text NOT NULL CHECK (resource_id <> ''),
    data_type   text NOT NULL DEFAULT 'zarr',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT assets_dataset_resource_key UNIQUE (dataset_id, resource_id)
);

CREATE TABLE releases (
    id                text PRIMARY KEY,
    asset_id          text NOT NULL REFERENCES assets (id),
    job_id            text NOT NULL DEFAULT '',
    version           integer NOT NULL CHECK (version > 0),
    processing_status text NOT NULL DEFAULT 'PENDING'
        CHECK (processing_status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
    approval_state    text NOT NULL DEFAULT 'PENDING'
        CHECK (approval_state IN ('PENDING', 'APPROVED', 'REJECTED')),
    blob_path         text NOT NULL DEFAULT '',
    stac_item_json    jsonb,
    error             text NOT NULL DEFAULT '',
    revision          bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    approval_at       timestamptz,
    CONSTRAINT releases_asset_version_key UNIQUE (asset_id, version),
    CONSTRAINT releases_asset_job_key UNIQUE (asset_id, job_id)
);

CREATE TABLE jobs (
    id          text PRIMARY KEY,
    type        text NOT NULL CHECK (type <> ''),
    stage       text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
    release_id  text REFERENCES releases (id),
    params      jsonb NOT NULL DEFAULT '{}',
    result      jsonb,
    error       text NOT NULL DEFAULT '',
    attempts    integer NOT NULL DEFAULT 0,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz
);

CREATE TABLE tasks (
    id          text PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type <> ''),
    stage       text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
    params      jsonb NOT NULL DEFAULT '{}',
    result      jsonb,
    error       text NOT NULL DEFAULT '',
    attempts    integer NOT NULL DEFAULT 0,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz
);

CREATE INDEX tasks_job_idx ON tasks (job_id, seq);
CREATE INDEX tasks_pending_idx ON tasks (seq) WHERE status = 'PENDING';
