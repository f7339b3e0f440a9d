-- Indexes of the engine's sweeper (engine.Engine.Sweep): jobs by status and
-- age (PENDING jobs whose message was lost, PROCESSING jobs past their
-- deadline) and PROCESSING tasks by lease start (leases that expired).

CREATE INDEX jobs_status_updated_idx ON jobs (status, updated_at);
CREATE INDEX tasks_processing_started_idx ON tasks (started_at) WHERE status = 'PROCESSING';
