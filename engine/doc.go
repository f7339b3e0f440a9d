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
//     advanced past, FAILED when the job fails in it. Its Result records
//     the number of tasks (and, when FAILED, the Failure).
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
//     is refused for a job already there, and a job that fails never
//     completes (its failing stage's gate is FAILED, so the stage never
//     advances; a stage that advanced first is not failed). OnStart may
//     run more than once after a crash and must be idempotent.
//   - OnFailure runs once, before the job becomes FAILED: the failure
//     marker record "J/!failure" (its params: the Failure) is a lease.
//     The worker that moves it to PROCESSING (revision checked) runs the
//     hook, then moves the job to FAILED, then marks the marker COMPLETED
//     (done); racing deliveries find it held and leave it. A hook that
//     returns an error is retried by the job's next message once its
//     backoff has passed (RetryBackoff, doubling per run); a hook whose
//     worker died is taken over after LeaseTimeout (by a message or the
//     sweeper, which then moves the job to FAILED), so it may run again
//     only then and must stay idempotent. After FailureHookAttempts runs
//     (failed or lost) the hook is given up: the job becomes FAILED
//     anyway, its Failure's HookError says why, and an ERROR is logged,
//     so no job stays PROCESSING behind a hook that keeps failing.
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
// A task whose Run returns an error that is not retryable, or that has
// used MaxAttempts (retryable errors, or leases lost to crashed workers),
// always fails its job (so do a failing OnStart or Plan, and the stage
// deadline). Failing is three records, in this order:
//
//  1. the stage's gate moves to FAILED with the Failure (stage, task,
//     error, error_type; a gate is created for a stage that never
//     opened): the stage stops for good, later stages are never opened,
//     and the job can no longer complete. The first failure recorded
//     wins; a gate already COMPLETED is not failed (the failure is
//     discarded: the stage advanced first);
//  2. the failure marker is created with the Failure as its params;
//  3. once none of the job's tasks still runs on a live worker (a task
//     PROCESSING within its lease may still write; the worker of each
//     comes back when it ends, and the others' messages are delivered
//     again meanwhile; a job past its stage deadline does not wait for
//     its hung tasks), the worker holding the marker's lease runs
//     OnFailure (the pipeline marks the Release FAILED and removes what
//     the job wrote), then moves the job to FAILED with "stage NAME:
//     ERROR" and the Failure (Observer.JobDone fires then, once), then
//     marks the marker done.
//
// So a job is FAILED, for status and for resubmits, only once its hook has
// completed; until then it stays PROCESSING, "failing", and
// JobStatus.Note reads "failing: cleaning up after stage NAME: ERROR"
// (with the hook's last error while it is being retried, or the running
// tasks it waits for). Nothing else of a failing job runs: a task message
// whose stage's gate is FAILED cancels its task (and creates the marker
// if the worker that failed the gate died first); the messages of tasks
// failed for good, job messages, the stage check and the sweeper go on
// with the failure (running the hook if it is not held). Failed
// for good is a state a worker reads, not a second move: a task FAILED
// with a retry-marked error and MaxAttempts attempts is failed for good as
// it stands, so whichever worker reads it (a delivery of its message, the
// stage check, the sweeper) fails the job; the gate's revision-checked
// move, the marker's deterministic id and lease and the job's own FAILED
// transition make each step happen once. The Failure's error_type is the
// last error's; "worker_lost" (ErrTypeWorkerLost) when the last attempt
// lost its lease, with a message naming the task, its params (its file)
// and how many attempts lost their lease. Tasks of a failing or failed
// job still waiting in the queue are marked FAILED as canceled when their
// messages arrive (a task already running when the job started failing
// finishes its run; its result is kept but nothing advances).
//
// # Lost workers
//
// A claim is a lease of LeaseTimeout (default 10 minutes) from the
// attempt's start. A worker that dies (kill -9, OOM) leaves its task
// PROCESSING; once the lease has expired the task is taken over, with a
// revision-checked move to FAILED, by the next delivery of its message
// (RabbitMQ and Service Bus deliver it again when the worker's connection
// drops; the delivery that finds the task held comes back every
// min(remaining lease, MaxRetryDelay) + up to 1 s) or by the sweeper,
// whichever comes first; each take-over is logged at WARN with the task,
// the attempt's start and how long the job was delayed. With attempts
// left the task runs again; without, the job fails with "worker_lost".
// With the defaults a job whose worker is lost on a task's last attempt
// fails about LeaseTimeout + 1 s after that attempt started when the
// broker delivers the message again (at most LeaseTimeout + 33 s, the
// sweep interval and its jitter, when the message is gone); a file that
// kills its worker every time fails its job after three leases, about
// 30 minutes after its first attempt started (3.2-3.5 s in
// pipeline's TestWorkerKilledThreeTimes, with a 1 s lease and a 200 ms
// sweep). Status (and Engine.Status) says so meanwhile: a
// stage left with only running tasks lists them in StageSummary.Waiting
// ({task_id, attempt, started_at, until, expired}) and JobStatus.Note
// reads "waiting for lease of task X until T".
//
// # Sweeper
//
// Work runs Sweep every SweepInterval (default 30 s, with up to 10%
// jitter; negative: never) in every worker. Each action is a
// revision-checked catalog change that only one worker wins, so sweepers
// never act twice:
//
//   - tasks PROCESSING past their lease: taken over; the task's message
//     is published again (it may be gone with its worker; a duplicate is
//     harmless) or, without attempts left, the job fails with
//     "worker_lost"; a task of a failing job is canceled instead;
//   - failure hooks PROCESSING past their lease (their worker died
//     mid-hook): taken over; the sweeper runs the hook and moves the job
//     to FAILED;
//   - jobs still PENDING PendingAfter (default 2 minutes) after their
//     last change: their message was lost or never sent (the submit path
//     commits its records, then publishes): the sweeper is the outbox
//     relay; it touches the job (catalog.Store.TouchJob) and enqueues it
//     again, once per PendingAfter;
//   - jobs whose current stage has been open longer than StageDeadline
//     (default 6 h; negative: no deadline): failed with error_type
//     "timeout" (ErrTypeTimeout), OnFailure runs; for a job still failing
//     that long after its last change, the failure is finished (the
//     marker created, a released hook run again).
//
// # Retries and outages
//
// When receiving fails (the broker is down) or handling a message fails
// with a catalog or broker error, the retry waits grow exponentially from
// RetryBackoff to MaxRetryDelay with jitter (a delay d becomes a random
// one in [d/2, d)), counted over consecutive failures. Each of receiving,
// handling and sweeping logs one line per state change: ERROR with the
// first error when it starts failing, INFO with the failure count and the
// outage's duration when it recovers; the attempts in between log at
// DEBUG.
package engine
