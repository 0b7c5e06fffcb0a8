import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    /// The condition that makes the run `r` runnable at `now`: queued, its
    /// `notBefore` reached, no run of its deployment running or cancelling,
    /// and no older run of its deployment still queued.
    ///
    /// "No older queued run" is written as "the first queued run of its
    /// deployment" (a scalar subquery, one probe of `runs_queued` per
    /// candidate) rather than `NOT EXISTS`: with statistics that lag behind a
    /// burst of queued runs, the planner turned the `NOT EXISTS` into an
    /// anti-join that scanned every queued run for every candidate (200 ms a
    /// claim with 2,000 queued runs, until autovacuum analyzed the table).
    private static func runnable(now: Double?) -> String {
        """
        r.status = 'queued' AND (r.not_before IS NULL OR r.not_before <= \(nowSQL(now)))
          AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.deployment_id = r.deployment_id AND o.status IN ('running', 'cancelling'))
          AND r.id = (SELECT min(p.id) FROM runs p WHERE p.deployment_id = r.deployment_id AND p.status = 'queued')
        """
    }

    /// Claims the oldest runnable run for `owner` (only `runID` when given):
    /// it becomes `running` with a lease until now + `leaseDuration` and its
    /// first start time set. Nil when nothing is runnable.
    ///
    /// In one transaction: the oldest candidate whose deployment row no
    /// other transaction holds is found and that row locked (`FOR NO KEY
    /// UPDATE ... SKIP LOCKED`); then, with a snapshot taken after the lock,
    /// the run is made running only if it is still runnable. Every claim of
    /// a deployment's runs holds that lock, so a claim sees what the claim
    /// before it committed: two runs of one deployment never run at once and
    /// no run is claimed twice. A candidate that stopped being runnable in
    /// between is passed over for the next one.
    public func claimNextRun(owner: LeaseOwner, leaseDuration: Duration, runID: RecordID?) async throws(StateStoreError) -> RunRecord? {
        let now = fixedNow
        let runnable = Self.runnable(now: now)
        return try await transaction { sql in
            var passedOver: [RecordID] = []
            for _ in 0..<8 {
                let find: PostgresQuery = """
                    SELECT r.id FROM runs r JOIN deployments d ON d.id = r.deployment_id
                    WHERE (\(runID)::bigint IS NULL OR r.id = \(runID)::bigint) AND NOT (r.id = ANY(\(passedOver)::bigint[]))
                      AND \(unescaped: runnable)
                    ORDER BY r.id LIMIT 1 FOR NO KEY UPDATE OF d SKIP LOCKED
                    """
                guard let candidate = try await sql.rows(find).first.map({ row in try row.value("id", as: RecordID.self) }) else { return nil }
                let claim: PostgresQuery = """
                    WITH changed AS (
                        UPDATE runs AS r SET status = 'running', lease_owner = \(owner.description),
                            lease_expires_at = \(now: now) + \(leaseDuration.seconds), started_at = COALESCE(started_at, \(now: now))
                        WHERE r.id = \(candidate) AND \(unescaped: runnable)
                        RETURNING r.*)
                    \(unescaped: Self.changedRuns)
                    """
                if let row = try await sql.rows(claim).first { return try RunRecord(row: row) }
                passedOver.append(candidate)
            }
            return nil
        }
    }

    /// Extends `owner`'s lease on a running or cancelling run to now +
    /// `leaseDuration`, even one that expired but was not recovered yet.
    /// False when the run is not `owner`'s any more (taken over, ended, unknown).
    public func renewLease(runID: RecordID, owner: LeaseOwner, attempt: Int?, leaseDuration: Duration) async throws(StateStoreError) -> Bool {
        let now = fixedNow
        let rows = try await query("""
            UPDATE runs SET lease_expires_at = \(now: now) + \(leaseDuration.seconds)
            WHERE id = \(runID) AND lease_owner = \(owner.description) AND status IN ('running', 'cancelling')
              AND (\(attempt)::bigint IS NULL OR attempt = \(attempt)) RETURNING id
            """, idempotent: true)
        return !rows.isEmpty
    }

    /// Running or cancelling runs whose lease expired before now (by the
    /// database's clock), by id; a run without a lease never counts.
    public func runsWithExpiredLease() async throws(StateStoreError) -> [RunRecord] {
        let now = fixedNow
        let rows = try await query("""
            \(unescaped: Self.runSelect)
            WHERE runs.status IN ('running', 'cancelling') AND runs.lease_expires_at < \(now: now) ORDER BY runs.id
            """)
        return try decode(rows, RunRecord.init(row:))
    }

    /// Puts a run whose lease expired (or whose owner is `abandonedOwner`)
    /// back in the queue for its next attempt (lease, end time, `notBefore`
    /// and replay policy cleared); a `cancelling` one ends `cancelled`
    /// instead. Either way its actions left `running` go back to `pending`,
    /// in the same statement. Nil, changing nothing, when the lease is still
    /// valid, the run holds none, or it is no longer running or cancelling.
    public func requeueExpiredRun(id: RecordID, abandonedOwner: LeaseOwner?) async throws(StateStoreError) -> RunRecord? {
        let now = fixedNow
        return try await handOn(id: id, failure: nil, when: { $0.status == .running }, change: """
            UPDATE runs SET
                status = CASE status WHEN 'cancelling' THEN 'cancelled' ELSE 'queued' END,
                attempt = CASE status WHEN 'cancelling' THEN attempt ELSE attempt + 1 END,
                ended_at = CASE status WHEN 'cancelling' THEN \(now: now) ELSE NULL END,
                lease_owner = NULL, lease_expires_at = NULL, not_before = NULL, replay = NULL
            WHERE id = \(id) AND status IN ('running', 'cancelling')
              AND (lease_expires_at < \(now: now) OR lease_owner = \(abandonedOwner?.description)::text)
            RETURNING *
            """)
    }
}
