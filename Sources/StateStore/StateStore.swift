public import FlowModel
public import Foundation

/// FlowRunner's durable state, whatever holds it: driver versions,
/// deployments, runs, action runs, steps, log lines, the run queue with its
/// leases, and the simulated clusters' opaque state.
///
/// Two implementations: ``SQLiteStateStore`` (one file, the embedded default)
/// and, for several runner machines, a PostgreSQL store. ``InMemoryStateStore``
/// is the test double. The protocol speaks only in this module's record
/// types: no SQL dialect, file path or process id leaks through it.
///
/// Contract every implementation keeps:
/// - Every method is `async` and never blocks a cooperative thread while it
///   waits for the database (busy waits, network round trips).
/// - A write that returned is durable; a write that threw changed nothing,
///   with one exception a shared store cannot avoid: when the connection to
///   its server is lost while a write is in flight (during `COMMIT`, or a
///   single statement), it throws ``StateStoreError/Code/cannotOpen`` saying
///   the write may or may not have been applied; callers re-read, and the
///   transitions and leases keep a repeated write from doing harm.
/// - Ids grow with each record. SQLite may give a pruned run's id again;
///   PostgreSQL never does (sequences). Neither promises ids without gaps.
/// - Text cannot hold U+0000 everywhere: step names and log lines keep it
///   as U+FFFD in every store (``StorableText``); other text with a NUL may
///   be refused by a store that cannot hold it.
/// - A `limit` below 1 reads nothing, except in ``logs(runID:afterID:limit:)``,
///   where a negative one reads every line; a `limit` above what is stored reads all.
/// - Status changes are checked against ``RunStatus/allowedNext`` (and the
///   action and step equivalents) inside the writing transaction; an illegal
///   one throws ``StateStoreError/Code/illegalTransition`` and writes nothing.
/// - Claims are atomic: one queued run goes to exactly one worker, and never
///   while another run of the same deployment is `running` or `cancelling`.
/// - Times come from the store's ``StoreClock`` (the database's clock for a
///   shared store), so every worker judges leases by the same clock.
/// - Every failure is a ``StateStoreError`` naming the store's ``location``.
public protocol StateStore: Sendable {
    /// Where the state lives, for messages: a file path or a URL without its password.
    var location: String { get }
    /// The time by the store's clock, which stamps records and judges leases
    /// (the database server's clock for a shared store).
    func currentTime() async throws(StateStoreError) -> Date

    // MARK: Driver versions

    /// Stores a driver version. The same content (driver name and digest)
    /// again is a no-op returning the stored version with `created == false`;
    /// new content gets the driver's next `number` (1, 2, ...).
    func storeDriverVersion(driver: String, specVersion: String, digest: String, files: [StoredDriverFile], sourceDirectory: String?)
        async throws(StateStoreError) -> (record: DriverVersionRecord, created: Bool)
    /// Every stored driver version (of one driver, when named), by driver and number.
    func driverVersions(driver: String?) async throws(StateStoreError) -> [DriverVersionRecord]
    /// The driver version with this id, or nil.
    func driverVersion(id: RecordID) async throws(StateStoreError) -> DriverVersionRecord?
    /// Version `number` of `driver`, or its newest when `number` is nil.
    func driverVersion(driver: String, number: Int?) async throws(StateStoreError) -> DriverVersionRecord?
    /// The files of a stored driver version, by path.
    func driverFiles(versionID: RecordID) async throws(StateStoreError) -> [StoredDriverFile]

    // MARK: Clusters

    /// Registers a cluster; a taken name is ``StateStoreError/Code/alreadyExists``.
    func createCluster(_ new: NewCluster) async throws(StateStoreError) -> ClusterRecord
    /// The registered cluster called `name`, or nil.
    func cluster(named name: String) async throws(StateStoreError) -> ClusterRecord?
    /// Every registered cluster, by name.
    func clusters() async throws(StateStoreError) -> [ClusterRecord]

    // MARK: Deployments

    /// Creates a deployment; a taken name throws ``StateStoreError/Code/alreadyExists``.
    func createDeployment(_ new: NewDeployment) async throws(StateStoreError) -> DeploymentRecord
    /// The deployment called `name`, or nil.
    func deployment(named name: String) async throws(StateStoreError) -> DeploymentRecord?
    /// The deployment with this id, or nil.
    func deployment(id: RecordID) async throws(StateStoreError) -> DeploymentRecord?
    /// Every deployment, by name.
    func deployments() async throws(StateStoreError) -> [DeploymentRecord]
    /// Replaces a deployment's component inputs (``DeploymentRecord/componentsJSON``);
    /// an unknown id throws ``StateStoreError/Code/notFound``.
    func setDeploymentComponents(id: RecordID, componentsJSON: String) async throws(StateStoreError)
    /// Changes what is not nil of a deployment; an unknown id throws ``StateStoreError/Code/notFound``.
    func updateDeployment(id: RecordID, appVersion: String?, driverVersionID: RecordID?, parametersJSON: String?)
        async throws(StateStoreError)
    /// Marks a deployment deleted (its `delete` run succeeded): it leaves
    /// ``deployment(named:)`` and ``deployments()``, its name is free for a
    /// new deployment, and its runs and backups stay readable
    /// (``deployment(id:)`` still finds it, with ``DeploymentRecord/deletedAt``).
    /// Deleting it again changes nothing; an unknown id throws ``StateStoreError/Code/notFound``.
    func markDeploymentDeleted(id: RecordID) async throws(StateStoreError)

    // MARK: Backups

    /// Records a backup and creates its `backup` run, in one transaction;
    /// the run's inputs (a JSON object) get the backup's id as `backup_id`.
    /// Backup ids are never reused. With an idempotency key this deployment already used, nothing is
    /// created and the earlier run and its backup are returned.
    func createBackup(_ new: NewBackup, run: NewRun) async throws(StateStoreError) -> (backup: BackupRecord, run: RunRecord)
    /// The backup with this id, or nil.
    func backup(id: RecordID) async throws(StateStoreError) -> BackupRecord?
    /// The backup the `backup` run `runID` takes, or nil.
    func backup(runID: RecordID) async throws(StateStoreError) -> BackupRecord?
    /// The backups of every deployment called `deployment` (deleted ones
    /// included), or of all when nil, newest first.
    func backups(deployment: String?) async throws(StateStoreError) -> [BackupRecord]
    /// Records a backup's artifacts and marks it completed; an unknown id
    /// throws ``StateStoreError/Code/notFound``.
    func completeBackup(id: RecordID, artifactsJSON: String) async throws(StateStoreError)
    /// Sets the app version of a backup whose run waited in the queue while
    /// the deployment changed (it is taken at the version the deployment
    /// runs when the backup starts). A completed backup throws
    /// ``StateStoreError/Code/illegalTransition``; an unknown one ``StateStoreError/Code/notFound``.
    func refreezeBackup(id: RecordID, appVersion: String) async throws(StateStoreError)
    /// Deletes backup records (`delete --purge-backups`); unknown ids are ignored.
    func deleteBackups(ids: [RecordID]) async throws(StateStoreError)

    // MARK: Simulated clusters (opaque JSON owned by the Primitives module)

    /// The saved state of a deployment's simulated cluster, or nil.
    func simulatedClusterState(deployment: String) async throws(StateStoreError) -> String?
    /// The simulated cluster's jobs of a deployment (opaque JSON each), oldest first.
    func simulatedJobs(deployment: String) async throws(StateStoreError) -> [String]
    /// Replaces the state and, in the same transaction, upserts (by name) and deletes jobs.
    func saveSimulatedClusterState(deployment: String, stateJSON: String, upsertJobs: [(name: String, json: String)], deleteJobs: [String])
        async throws(StateStoreError)

    // MARK: Runs

    /// Creates a queued run (attempt 1). With an idempotency key this
    /// deployment already used, nothing is created and the earlier run is
    /// returned with `created == false`. Refused with
    /// ``StateStoreError/Code/illegalTransition``, in the creating
    /// transaction: a run of a deleted deployment, a run behind its
    /// unfinished `delete` run, and an ``NewRun/exclusive`` run while any
    /// run of the deployment is queued, running or cancelling.
    func createRun(_ new: NewRun) async throws(StateStoreError) -> (record: RunRecord, created: Bool)
    /// The run with this id, or nil.
    func run(id: RecordID) async throws(StateStoreError) -> RunRecord?
    /// The newest runs matching `filter`, newest first.
    func runs(matching filter: RunFilter) async throws(StateStoreError) -> [RunRecord]
    /// Changes a run's status, checked against ``RunStatus/allowedNext``:
    /// to `running`, `started_at` is set on the first start; to `queued`, the
    /// attempt grows by one and lease, end time and error are cleared,
    /// `notBefore` set; to a finished status, `ended_at` is set, the lease
    /// released and `errorJSON` stored.
    @discardableResult
    func changeRunStatus(id: RecordID, to next: RunStatus, errorJSON: String?, notBefore: Date?)
        async throws(StateStoreError) -> RunRecord
    /// Starts the next attempt of a failed or cancelled run, or of a running
    /// one whose lease expired or whose owner is `abandonedOwner` (the caller
    /// knows it is gone, or is that owner handing its own run back, as a
    /// flow's retry does): status `queued`, attempt + 1, the replay policy and
    /// optionally another driver version; actions left `running` go back to
    /// `pending`. Anything else throws ``StateStoreError/Code/illegalTransition``.
    ///
    /// A running or cancelling run's attempt is handed on without an end, so
    /// its ``AttemptEnd`` is written in the same transaction: ended by a
    /// ``AttemptEndKind/retry`` with `handingOn`'s errors (a flow's own
    /// retry), else by a ``AttemptEndKind/recovery`` saying whose lease was
    /// given up. A failed or cancelled run's attempt already has its end.
    @discardableResult
    func retryRun(id: RecordID, replayJSON: String?, driverVersionID: RecordID?, notBefore: Date?, abandonedOwner: LeaseOwner?,
                  handingOn failure: AttemptFailure?) async throws(StateStoreError) -> RunRecord
    /// Replaces the inputs and frozen GlobalContext of a run that has not
    /// started an action yet (attempt 1, no action runs recorded, not
    /// finished), so a run that waited in the queue sees the deployment as
    /// it is when it starts. Anything else throws
    /// ``StateStoreError/Code/illegalTransition``; an unknown run ``StateStoreError/Code/notFound``.
    @discardableResult
    func refreezeRun(id: RecordID, inputsJSON: String, contextJSON: String) async throws(StateStoreError) -> RunRecord
    /// Deletes finished runs that ended before `date`, with their actions,
    /// steps and logs; returns how many runs went.
    @discardableResult
    func pruneRuns(endedBefore date: Date) async throws(StateStoreError) -> Int
    /// How each attempt of a run ended, in attempt order: one ``AttemptEnd``
    /// per change of the run to `succeeded`, `failed` or `cancelled` (with
    /// the failing action's error as it was then), and one per attempt
    /// handed to the next by a flow's retry or a recovery, each kept in the
    /// same transaction as the change, whichever process made it, and
    /// deleted only with the run. The running attempt has none, nor do
    /// attempts handed on before the store kept them; an unknown run has none.
    func attemptEnds(ofRun runID: RecordID) async throws(StateStoreError) -> [AttemptEnd]

    // MARK: Queue and leases

    /// Claims the oldest runnable run for `owner` atomically: queued, its
    /// `notBefore` passed, no other run of its deployment `running` or
    /// `cancelling`, and no older run of its deployment still queued (each
    /// deployment's runs go first in, first out). The run becomes `running` with a lease until now +
    /// `leaseDuration`. With `runID`, only that run is considered.
    func claimNextRun(owner: LeaseOwner, leaseDuration: Duration, runID: RecordID?) async throws(StateStoreError) -> RunRecord?
    /// Extends `owner`'s lease on a running or cancelling run to now +
    /// `leaseDuration`, when the run is still at `attempt` (nil: any).
    /// False when the lease was lost: another worker took the run over, the
    /// run ended, or it was recovered and claimed again (by any owner, this
    /// one too) for a later attempt.
    func renewLease(runID: RecordID, owner: LeaseOwner, attempt: Int?, leaseDuration: Duration) async throws(StateStoreError) -> Bool
    /// Running or cancelling runs whose lease has expired: their worker died.
    func runsWithExpiredLease() async throws(StateStoreError) -> [RunRecord]
    /// Puts a run whose lease expired (or whose owner is `abandonedOwner`)
    /// back in the queue for its next attempt; a `cancelling` one ends
    /// `cancelled` instead. Nil, changing nothing, when the lease is still
    /// valid or the run is no longer running: another worker got there first.
    /// The attempt handed on gets its ``AttemptEnd`` (a ``AttemptEndKind/recovery``) in the same transaction.
    func requeueExpiredRun(id: RecordID, abandonedOwner: LeaseOwner?) async throws(StateStoreError) -> RunRecord?

    // MARK: Action runs and steps

    /// Records the planned actions of a run as `pending`, in order; actions
    /// already recorded (by name) are kept as they are. Returns all of them.
    @discardableResult
    func planActionRuns(runID: RecordID, actions: [(name: String, mode: ActionMode)]) async throws(StateStoreError) -> [ActionRunRecord]
    /// The action runs of a run, in execution order.
    func actionRuns(runID: RecordID) async throws(StateStoreError) -> [ActionRunRecord]
    /// Changes an action run's status, checked against ``ActionRunStatus/allowedNext``;
    /// `running` counts an attempt, clears the error and stores `isolation`
    /// (see ``ActionRunRecord/isolation``), a finished status stores `errorJSON`.
    @discardableResult
    func changeActionRunStatus(id: RecordID, to next: ActionRunStatus, errorJSON: String?, isolation: String?)
        async throws(StateStoreError) -> ActionRunRecord
    /// Records a step as `running` before it executes; returns its id.
    /// `divergenceJSON` marks the step where replay stopped.
    func beginStep(_ step: NewStep, divergenceJSON: String?) async throws(StateStoreError) -> RecordID
    /// Records steps answered from an earlier attempt (`replayed`, nothing executed), in one transaction.
    func recordReplayedSteps(_ steps: [(step: NewStep, resultJSON: String?)]) async throws(StateStoreError)
    /// Ends a running step as `succeeded` or `failed`; any other change throws
    /// ``StateStoreError/Code/illegalTransition``.
    func finishStep(id: RecordID, status: StepStatus, resultJSON: String?, errorJSON: String?) async throws(StateStoreError)
    /// Ends running steps in order, each as ``finishStep(id:status:resultJSON:errorJSON:)``
    /// would (stamped now), except that a step that ended already with the
    /// same status is skipped (a journal may give an end again after a write
    /// whose outcome it could not know); the first one refused throws and
    /// ends none after it. Stores that can make it one write do (SQLite: one
    /// transaction, all or none).
    func finishSteps(_ ends: [StepEnd]) async throws(StateStoreError)
    /// Ends `ends` (as ``finishSteps(_:)``), then records `step` as running
    /// (as ``beginStep(_:divergenceJSON:)``); a refused end records no step.
    /// Lets a journal that learns of an end while the action goes on store it
    /// with the next step instead of on its own (SQLite: one transaction).
    func beginStep(_ step: NewStep, divergenceJSON: String?, finishingFirst ends: [StepEnd]) async throws(StateStoreError) -> RecordID
    /// The steps of an action run, by attempt and sequence number.
    func steps(actionRunID: RecordID) async throws(StateStoreError) -> [StepRecord]

    // MARK: Logs

    /// Appends log lines in one transaction.
    func appendLogs(_ lines: [NewLogLine]) async throws(StateStoreError)
    /// A run's log lines with an id above `afterID`, oldest first, at most `limit`.
    func logs(runID: RecordID, afterID: RecordID, limit: Int) async throws(StateStoreError) -> [LogRecord]
    /// A run's newest `limit` log lines, oldest first (a page of a long log, read from its end).
    func lastLogs(runID: RecordID, limit: Int) async throws(StateStoreError) -> [LogRecord]

    // MARK: Change notifications

    /// Waits until one of `changes` may have happened to run `id` (a status
    /// change, new log lines), in any process sharing the store, or until
    /// `timeout` has passed, whichever is first; returns soon after the
    /// calling task is cancelled. A return promises nothing: callers read the
    /// store again either way (spurious wake-ups are allowed, a change seen
    /// late is not lost). A store that cannot be told of changes (SQLite, or
    /// a PostgreSQL store whose listening connection is down) sleeps
    /// `timeout`: its callers poll.
    func waitForChange(_ changes: RunChanges, ofRun id: RecordID, timeout: Duration) async
    /// Waits until a run may have become claimable (a run queued, or one
    /// ended, freeing its deployment), or until `timeout`, as ``waitForChange(_:ofRun:timeout:)``.
    func waitForQueueChange(timeout: Duration) async

    // MARK: Completion webhooks

    /// Registers the webhook at `url`; the same URL again returns the stored
    /// one unchanged. A new webhook is told only of runs that end after it
    /// was registered. Every run's end (to `succeeded`, `failed` or
    /// `cancelled`, by any process on the store) is kept in the same
    /// transaction as the status change, so none is missed while no sender runs.
    func registerWebhook(url: String) async throws(StateStoreError) -> WebhookRecord
    /// Creates a `pending` delivery, due now, for each run end the webhook
    /// has not seen yet, oldest first, at most `limit`; returns how many.
    /// Each run end gets at most one delivery per webhook, however many
    /// senders call this at once.
    @discardableResult
    func enqueueWebhookDeliveries(webhookID: RecordID, limit: Int) async throws(StateStoreError) -> Int
    /// Claims up to `limit` pending deliveries of the webhook that are due,
    /// oldest due first: each counts an attempt and is not due again until
    /// now + `leaseDuration`, so no other sender posts it meanwhile.
    func claimWebhookDeliveries(webhookID: RecordID, leaseDuration: Duration, limit: Int) async throws(StateStoreError) -> [WebhookDeliveryRecord]
    /// Records how a claimed attempt went: `delivered`, `pending` again at
    /// `retryAt`, or `failed` (given up). A delivery already delivered or
    /// failed is left as it is; an unknown id throws ``StateStoreError/Code/notFound``.
    @discardableResult
    func recordWebhookAttempt(id: RecordID, outcome: WebhookAttemptOutcome) async throws(StateStoreError) -> WebhookDeliveryRecord
    /// The deliveries of a run's ends, oldest first.
    func webhookDeliveries(runID: RecordID) async throws(StateStoreError) -> [WebhookDeliveryRecord]
}

extension StateStore {
    /// ``renewLease(runID:owner:attempt:leaseDuration:)`` at whatever attempt the run is.
    public func renewLease(runID: RecordID, owner: LeaseOwner, leaseDuration: Duration) async throws(StateStoreError) -> Bool {
        try await renewLease(runID: runID, owner: owner, attempt: nil, leaseDuration: leaseDuration)
    }

    /// Every stored driver version, by driver and number.
    /// Stores a driver version without a source directory.
    @discardableResult
    public func storeDriverVersion(
        driver: String, specVersion: String, digest: String, files: [StoredDriverFile]
    ) async throws(StateStoreError) -> (record: DriverVersionRecord, created: Bool) {
        try await storeDriverVersion(driver: driver, specVersion: specVersion, digest: digest, files: files, sourceDirectory: nil)
    }

    public func driverVersions() async throws(StateStoreError) -> [DriverVersionRecord] {
        try await driverVersions(driver: nil)
    }

    /// The newest version of `driver`.
    public func driverVersion(driver: String) async throws(StateStoreError) -> DriverVersionRecord? {
        try await driverVersion(driver: driver, number: nil)
    }

    /// The newest runs, newest first (50 at most).
    public func runs() async throws(StateStoreError) -> [RunRecord] {
        try await runs(matching: RunFilter())
    }

    /// Changes a run's status without an error or a delay.
    @discardableResult
    public func changeRunStatus(id: RecordID, to next: RunStatus, errorJSON: String? = nil) async throws(StateStoreError) -> RunRecord {
        try await changeRunStatus(id: id, to: next, errorJSON: errorJSON, notBefore: nil)
    }

    /// Starts the next attempt of a run (see ``retryRun(id:replayJSON:driverVersionID:notBefore:abandonedOwner:handingOn:)``);
    /// an attempt handed on ends as a ``AttemptEndKind/recovery``.
    @discardableResult
    public func retryRun(
        id: RecordID, replayJSON: String?, driverVersionID: RecordID?, notBefore: Date?, abandonedOwner: LeaseOwner?
    ) async throws(StateStoreError) -> RunRecord {
        try await retryRun(id: id, replayJSON: replayJSON, driverVersionID: driverVersionID, notBefore: notBefore,
                           abandonedOwner: abandonedOwner, handingOn: nil)
    }

    /// Changes an action run's status without an error.
    @discardableResult
    public func changeActionRunStatus(id: RecordID, to next: ActionRunStatus) async throws(StateStoreError) -> ActionRunRecord {
        try await changeActionRunStatus(id: id, to: next, errorJSON: nil, isolation: nil)
    }

    /// Changes an action run's status, storing `errorJSON` when it finishes.
    @discardableResult
    public func changeActionRunStatus(id: RecordID, to next: ActionRunStatus, errorJSON: String?) async throws(StateStoreError) -> ActionRunRecord {
        try await changeActionRunStatus(id: id, to: next, errorJSON: errorJSON, isolation: nil)
    }

    /// ``finishSteps(_:)``, then ``beginStep(_:divergenceJSON:)``: two writes.
    public func beginStep(_ step: NewStep, divergenceJSON: String?, finishingFirst ends: [StepEnd]) async throws(StateStoreError) -> RecordID {
        try await finishSteps(ends)
        return try await beginStep(step, divergenceJSON: divergenceJSON)
    }

    /// Records a step as `running`, with no divergence.
    public func beginStep(_ step: NewStep) async throws(StateStoreError) -> RecordID {
        try await beginStep(step, divergenceJSON: nil)
    }

    /// Polls: sleeps `timeout` (the stores that are not told of changes).
    public func waitForChange(_ changes: RunChanges, ofRun id: RecordID, timeout: Duration) async {
        try? await Task.sleep(for: timeout)
    }

    /// Polls: sleeps `timeout` (the stores that are not told of changes).
    public func waitForQueueChange(timeout: Duration) async {
        try? await Task.sleep(for: timeout)
    }

    /// A run's log lines from the start (10,000 at most).
    public func logs(runID: RecordID) async throws(StateStoreError) -> [LogRecord] {
        try await logs(runID: runID, afterID: 0, limit: 10_000)
    }
}
