// Package engine runs jobs made of ordered stages whose tasks fan out over a
// message queue (the platform calls it CoreMachine).
//
// A Definition names a job type's stages. Each Stage plans its tasks from
// the results of the stages before it (one task, or one per file) and runs
// one task at a time. Jobs, tasks and every result live in a catalog.Store;
// queue messages carry ids only. Workers (Engine.Work, or Engine.Handle
// called by another transport) may be many, in many processes, and the
// queue may deliver a message more than once and in any order: every step
// below is idempotent, and every decision that must happen once is a single
// atomic change of one catalog record.
//
// # Records
//
// For job J with stages S0..Sn, besides the Job record:
//
//   - a stage gate per stage, a Task of type GateType with the
//     deterministic id "J/Sk". Its status is the stage's: PENDING while the
//     stage's tasks are created and published, PROCESSING while they run,
//     COMPLETED once every task has completed and the stage has been
//     advanced past, FAILED when the job failed in it. Its Result records
//     the number of tasks.
//   - the stage's tasks, with the deterministic ids "J/Sk/00000",
//     "J/Sk/00001", ...; their params are the stage's plan, their results
//     the result envelopes ({"success": true, "result": ...}, or
//     {"success": false, "error": ..., "error_type": ...}).
//
// # Exactly once
//
//   - A task runs once: a worker claims it by moving it PENDING →
//     PROCESSING with IfRevision; a second delivery finds it PROCESSING or
//     COMPLETED and does not run it. Its result is committed with
//     IfRevision too, so a worker whose claim was taken over (its lease
//     expired) cannot overwrite the new owner's result.
//   - A stage advances once: the worker that sees every task of stage k
//     COMPLETED moves gate k PROCESSING → COMPLETED with IfRevision; only
//     one such move can succeed. Stage k+1 is opened by creating gate k+1,
//     whose id is deterministic: a second creation fails with
//     catalog.ErrConflict, and only the creator plans and publishes the
//     stage's tasks, themselves created with deterministic ids.
//   - The job completes or fails once: TransitionJob to COMPLETED or FAILED
//     is refused for a job already there. OnStart and OnFailure may run
//     more than once after a crash and must be idempotent (OnFailure runs
//     until it has succeeded once, which a marker record notes).
//
// No wake-up is lost: every worker that completes a task commits the task
// first and reads the stage second, so of two workers that complete the
// last two tasks at once, the later reader sees both. A worker acknowledges
// its message only after the task and the advance it triggered are
// committed; if it dies in between, the message is delivered again and the
// next worker finishes the advance: a task found COMPLETED re-runs the
// advance check; a gate left PENDING keeps the message that opened it
// coming back (RetryError) and, once older than FanoutTimeout, is planned
// and published again (task creation is idempotent, duplicate messages
// are harmless); a task held PROCESSING for longer than LeaseTimeout is
// taken over by the next delivery of its message.
//
// # Outages
//
// When the catalog or the broker is away every message fails the same
// way. Work returns each one to the queue after a delay that grows
// exponentially with the outage's duration (RetryBackoff doubling up to
// MaxRetryDelay, with jitter), and logs the outage twice: an error at its
// first failure, a line when handling succeeds again (the failures in
// between at debug level). A task whose result cannot be recorded because
// the catalog is away keeps its result and records it again with backoff
// while its lease lasts, so a short database restart neither loses the
// work nor makes the task wait for its lease to run again.
//
// Messages carry ids only, so a 10,000-file job sends 10,000 messages of
// about 70 bytes; the file list, the per-file reports and results live in
// the catalog (task params and results).
//
// # Failure
//
// A task whose Run returns an error that is not retryable (or that has
// used MaxAttempts) fails its job: the task and its gate are FAILED with
// the error, the job is FAILED with "stage NAME: ERROR", later stages are
// never opened, and OnFailure runs (the pipeline marks the Release FAILED
// and removes what the job wrote). Tasks of a failed job still waiting in
// the queue are marked FAILED as canceled when their messages arrive.
package engine
