-- The identity of the caller who submitted a job (the API's
-- authenticated subject), on the Job and on the Release it created.

ALTER TABLE releases ADD COLUMN submitted_by text NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN submitted_by text NOT NULL DEFAULT '';
