public import FlowModel
public import StateStore

/// A backup as `backups list`, `GET /v1/backups` and `deployments show` give it.
public enum BackupReport {
    /// `{"id", "deployment", "app_version", "status", "created_at",
    /// "completed_at", "run_id", "components": {COMPONENT: {"strategy",
    /// "artifacts": [{"kind", "name", "size_bytes", "created_at", "location"}]}}}`;
    /// times in RFC 3339, sizes in bytes; `components` is empty until completed.
    public static func json(_ backup: BackupRecord) -> JSONValue {
        [
            "id": .int(Int(backup.id)), "deployment": .string(backup.deployment), "app_version": .string(backup.appVersion),
            "status": .string(backup.status.rawValue), "created_at": .string(TimeText.rfc3339(backup.createdAt)),
            "completed_at": backup.completedAt.map { .string(TimeText.rfc3339($0)) } ?? .null,
            "run_id": backup.runID.map { .int(Int($0)) } ?? .null,
            "components": backup.artifactsJSON.flatMap(JSONValue.init(storedText:)) ?? .object([:]),
        ]
    }

    /// Total bytes of the backup's artifacts that state their size.
    public static func sizeBytes(_ backup: BackupRecord) -> Int {
        let components = backup.artifactsJSON.flatMap(JSONValue.init(storedText:))?.objectValue ?? [:]
        // Saturating: sizes come from clusters (and fixtures), and a sum must not trap.
        return components.values.flatMap { $0["artifacts"]?.arrayValue ?? [] }.compactMap { $0["size_bytes"]?.intValue }.reduce(0) { total, size in
            let (sum, overflow) = total.addingReportingOverflow(max(size, 0))
            return overflow ? Int.max : sum
        }
    }

    /// `bytes` for people: `512 B`, `1.5 KiB`, `50.0 MiB`, `2.0 GiB`.
    public static func sizeText(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : "\(TimeText.fixed(value, 1)) \(units[unit])"
    }

    /// The backups of `deployment` (every deployment when nil), newest first.
    public static func list(deployment: String?, store: any StateStore) async throws(EngineError) -> [BackupRecord] {
        do {
            return try await store.backups(deployment: deployment)
        } catch {
            throw EngineError(storeError: error)
        }
    }
}
