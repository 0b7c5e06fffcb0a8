import FlowModel
import Foundation

/// A row of an ``InMemoryStateStore`` table: anything with a row id.
protocol MemoryRow: Sendable {
    var id: RecordID { get }
}

/// One table of ``InMemoryStateStore``, its rows in ascending id order.
///
/// A new row gets the largest id in the table plus one (1 in an empty
/// table). That is how SQLite numbers an `INTEGER PRIMARY KEY` without
/// `AUTOINCREMENT`, so both stores hand out the same ids, including the ids
/// of the newest rows again after they were deleted.
struct MemoryTable<Row: MemoryRow>: Sendable {
    /// Every row, by id.
    private(set) var rows: [Row] = []

    /// The id the next inserted row gets.
    var nextID: RecordID { (rows.last?.id ?? 0) + 1 }

    /// The row with `id`, or nil.
    subscript(id: RecordID) -> Row? {
        index(of: id).map { rows[$0] }
    }

    /// Appends the row that `make` builds with the next id, and returns it.
    @discardableResult
    mutating func insert(_ make: (RecordID) -> Row) -> Row {
        let row = make(nextID)
        rows.append(row)
        return row
    }

    /// Changes the row with `id` in place; returns it changed, or nil when there is none.
    @discardableResult
    mutating func update(_ id: RecordID, _ change: (inout Row) -> Void) -> Row? {
        guard let index = index(of: id) else { return nil }
        change(&rows[index])
        return rows[index]
    }

    /// Changes every row matching `isIncluded` in place.
    mutating func updateAll(where isIncluded: (Row) -> Bool, _ change: (inout Row) -> Void) {
        for index in rows.indices where isIncluded(rows[index]) {
            change(&rows[index])
        }
    }

    /// Deletes every row matching `shouldRemove`.
    mutating func removeAll(where shouldRemove: (Row) -> Bool) {
        rows.removeAll(where: shouldRemove)
    }

    /// Binary search: rows are kept in ascending id order.
    private func index(of id: RecordID) -> Int? {
        var low = 0
        var high = rows.count
        while low < high {
            let middle = low + (high - low) / 2
            if rows[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low < rows.count && rows[low].id == id ? low : nil
    }
}

extension DriverVersionRecord: MemoryRow {}
extension DeploymentRecord: MemoryRow {}
extension ActionRunRecord: MemoryRow {}
extension StepRecord: MemoryRow {}
extension LogRecord: MemoryRow {}

/// A run as the SQLite `runs` table holds it: times as seconds since 1970
/// (so expiry and cut-off comparisons give exactly SQLite's answers), the
/// lease owner as its text, and no joined deployment name.
struct RunRow: MemoryRow {
    var id: RecordID
    var deploymentID: RecordID
    var hook: Hook
    var status: RunStatus
    var attempt: Int
    var inputsJSON: String
    var contextJSON: String
    var driverVersionID: RecordID
    var idempotencyKey: String?
    /// ``LeaseOwner/description`` of the owner, compared as text.
    var leaseOwner: String?
    var leaseExpiresAt: Double?
    var notBefore: Double?
    var createdAt: Double
    var startedAt: Double?
    var endedAt: Double?
    var errorJSON: String?
    var replayJSON: String?
    var requestDigest: String?

    /// True while a worker holds or should hold the run.
    var isActive: Bool { status == .running || status == .cancelling }

    /// Back in the queue for the next attempt: attempt + 1, lease and end
    /// time cleared, not claimed before `notBefore` (seconds since 1970).
    mutating func queueNextAttempt(notBefore: Double?) {
        status = .queued
        attempt += 1
        leaseOwner = nil
        leaseExpiresAt = nil
        endedAt = nil
        self.notBefore = notBefore
    }
}

/// One job of a simulated cluster, at its position (insertion order).
struct SimulatedJobRow: Sendable {
    var name: String
    var position: Int
    var json: String
}

/// Everything an ``InMemoryStateStore`` holds, one value per SQLite table.
struct MemoryTables: Sendable {
    var driverVersions = MemoryTable<DriverVersionRecord>()
    /// The files of each driver version, by path.
    var driverFiles: [RecordID: [StoredDriverFile]] = [:]
    var deployments = MemoryTable<DeploymentRecord>()
    /// Registered clusters by name.
    var clusters: [StoredText: ClusterRecord] = [:]
    /// Simulated cluster state by deployment name.
    var simulatedClusters: [StoredText: String] = [:]
    /// Simulated cluster jobs by deployment name, by position.
    var simulatedJobs: [StoredText: [SimulatedJobRow]] = [:]
    var runs = MemoryTable<RunRow>()
    var actionRuns = MemoryTable<ActionRunRecord>()
    var steps = MemoryTable<StepRecord>()
    var logs = MemoryTable<LogRecord>()
    /// The outbox of run ends, oldest first.
    var runEnds: [RunEndRow] = []
    /// The id the next run end gets (SQLite's AUTOINCREMENT: never reused).
    var nextRunEndID: RecordID = 1
    /// How each attempt ended, handed-on ones included, in the order they ended.
    var attemptEnds: [AttemptEndRow] = []
    var backups = MemoryTable<BackupRow>()
    /// The id the next backup gets (SQLite's AUTOINCREMENT: never reused,
    /// as backup ids name objects on clusters).
    var nextBackupID: RecordID = 1
    var webhooks = MemoryTable<WebhookRow>()
    var webhookDeliveries = MemoryTable<WebhookDeliveryRow>()
}

/// A backup without the joined deployment name and run status.
struct BackupRow: MemoryRow {
    var id: RecordID
    var deploymentID: RecordID
    var runID: RecordID?
    var appVersion: String
    var createdAt: Double
    var completedAt: Double?
    var artifactsJSON: String?
}

/// One run's end, as the `run_ends` outbox holds it.
struct RunEndRow: Sendable {
    var id: RecordID
    var runID: RecordID
    var attempt: Int
    var status: RunStatus
    var errorJSON: String?
    var endedAt: Double
}

/// One attempt's end, as the `attempt_ends` table holds it.
struct AttemptEndRow: Sendable {
    var runID: RecordID
    var end: AttemptEnd
}

/// A webhook with the id of the last run end it has seen.
struct WebhookRow: MemoryRow {
    var record: WebhookRecord
    var cursor: RecordID
    var id: RecordID { record.id }
}

/// A delivery without the joined webhook URL, deployment name and hook.
struct WebhookDeliveryRow: MemoryRow {
    var id: RecordID
    var deliveryID: String
    var webhookID: RecordID
    var runEndID: RecordID
    var runID: RecordID
    var runAttempt: Int
    var runStatus: RunStatus
    var runErrorJSON: String?
    var runEndedAt: Double
    var status: WebhookDeliveryStatus
    var attempts: Int
    var nextAttemptAt: Double?
    var lastStatusCode: Int?
    var lastError: String?
    var createdAt: Double
    var deliveredAt: Double?
}

/// Text compared the way SQLite compares `TEXT` with its default `BINARY`
/// collation: byte by byte in UTF-8. (Swift's `String ==` treats canonically
/// equivalent strings, such as a precomposed and a decomposed `é`, as equal;
/// SQLite does not, and neither does this.)
struct StoredText: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    /// Whether `a` and `b` are the same bytes.
    static func same(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }

    /// Whether `a` sorts before `b` (SQLite's `ORDER BY` on text).
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

extension Date {
    /// The date as a store keeps it: seconds since 1970 in a `Double`, the
    /// precision SQLite stores (`storedValue`).
    var asStored: Date { Date(storedValue: storedValue) }
}
