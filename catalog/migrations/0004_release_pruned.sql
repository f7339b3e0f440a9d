-- Retention: pipeline.Prune deletes the data of old Releases (REJECTED, or
-- superseded by a newer COMPLETED one) and records when here; a pruned
-- Release's blob_path is empty.
ALTER TABLE releases ADD COLUMN pruned_at timestamptz;
