import GRDB

/// The schema, as an ordered list of migrations. A migration, once released,
/// never changes: new columns and tables come as new migrations at the end.
enum Migrations {
    /// Every migration identifier, in order.
    static var identifiers: [String] { migrator.migrations }

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-core") { db in
            try db.execute(sql: """
                CREATE TABLE driver_versions (
                    id INTEGER PRIMARY KEY,
                    driver TEXT NOT NULL,
                    number INTEGER NOT NULL,
                    spec_version TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    loaded_at REAL NOT NULL,
                    UNIQUE (driver, number),
                    UNIQUE (driver, digest)
                );
                CREATE TABLE driver_files (
                    driver_version_id INTEGER NOT NULL REFERENCES driver_versions(id) ON DELETE CASCADE,
                    path TEXT NOT NULL,
                    contents BLOB NOT NULL,
                    PRIMARY KEY (driver_version_id, path)
                ) WITHOUT ROWID;
                CREATE TABLE deployments (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    driver TEXT NOT NULL,
                    driver_version_id INTEGER NOT NULL REFERENCES driver_versions(id),
                    app_version TEXT NOT NULL,
                    parameters TEXT NOT NULL DEFAULT '{}',
                    config TEXT NOT NULL DEFAULT '{}',
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY,
                    deployment_id INTEGER NOT NULL REFERENCES deployments(id),
                    hook TEXT NOT NULL,
                    status TEXT NOT NULL,
                    attempt INTEGER NOT NULL DEFAULT 1,
                    inputs TEXT NOT NULL DEFAULT '{}',
                    context TEXT NOT NULL DEFAULT '{}',
                    driver_version_id INTEGER NOT NULL REFERENCES driver_versions(id),
                    idempotency_key TEXT,
                    lease_owner TEXT,
                    lease_expires_at REAL,
                    not_before REAL,
                    created_at REAL NOT NULL,
                    started_at REAL,
                    ended_at REAL,
                    error TEXT,
                    UNIQUE (deployment_id, idempotency_key)
                );
                CREATE INDEX runs_by_status ON runs (status, id);
                CREATE INDEX runs_by_deployment ON runs (deployment_id, id);
                CREATE TABLE action_runs (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    mode TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    error TEXT,
                    started_at REAL,
                    ended_at REAL,
                    UNIQUE (run_id, name)
                );
                CREATE TABLE steps (
                    id INTEGER PRIMARY KEY,
                    action_run_id INTEGER NOT NULL REFERENCES action_runs(id) ON DELETE CASCADE,
                    attempt INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    args TEXT NOT NULL,
                    args_digest TEXT NOT NULL,
                    status TEXT NOT NULL,
                    replayed INTEGER NOT NULL DEFAULT 0,
                    result TEXT,
                    error TEXT,
                    started_at REAL NOT NULL,
                    ended_at REAL,
                    UNIQUE (action_run_id, attempt, seq)
                );
                CREATE TABLE logs (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    action TEXT,
                    attempt INTEGER NOT NULL,
                    time REAL NOT NULL,
                    level TEXT NOT NULL,
                    logger TEXT NOT NULL,
                    message TEXT NOT NULL
                );
                CREATE INDEX logs_by_run ON logs (run_id, id);
                """)
        }
        migrator.registerMigration("v2-simulated-cluster") { db in
            try db.execute(sql: """
                CREATE TABLE simulated_clusters (
                    deployment TEXT PRIMARY KEY,
                    state TEXT NOT NULL,
                    updated_at REAL NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX runs_by_queue ON runs (status, not_before, id) WHERE status = 'queued';
                """)
        }
        migrator.registerMigration("v3-simulated-jobs") { db in
            try db.execute(sql: """
                CREATE TABLE simulated_jobs (
                    deployment TEXT NOT NULL,
                    name TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    data TEXT NOT NULL,
                    PRIMARY KEY (deployment, name)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v4-replay-policy") { db in
            try db.execute(sql: """
                ALTER TABLE runs ADD COLUMN replay TEXT;
                ALTER TABLE steps ADD COLUMN divergence TEXT;
                """)
        }
        migrator.registerMigration("v5-deployment-cluster") { db in
            // Every deployment made before clusters existed lives on the simulator.
            try db.execute(sql: "ALTER TABLE deployments ADD COLUMN cluster TEXT NOT NULL DEFAULT 'simulated'")
        }
        migrator.registerMigration("v6-secret-config") { db in
            // A JSON list of the config keys given as secrets.
            try db.execute(sql: "ALTER TABLE deployments ADD COLUMN secret_config_keys TEXT NOT NULL DEFAULT '[]'")
        }
        migrator.registerMigration("v7-action-isolation") { db in
            // How each action's host was confined ("user nobody", "unisolated"); NULL before this version.
            try db.execute(sql: "ALTER TABLE action_runs ADD COLUMN isolation TEXT")
        }
        migrator.registerMigration("v8-driver-source-directory") { db in
            // Where each driver version was last loaded from; NULL before this version.
            try db.execute(sql: "ALTER TABLE driver_versions ADD COLUMN source_directory TEXT")
        }
        migrator.registerMigration("v9-request-digest") { db in
            // The digest of the request that created a run with an idempotency key; NULL before this version.
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN request_digest TEXT")
        }
        migrator.registerMigration("v10-webhooks") { db in
            // run_ends is the outbox of run ends, written by a trigger in the
            // same transaction as the status change, whichever process ends
            // the run; AUTOINCREMENT so an id never comes back after pruning
            // (each webhook's cursor only moves forward).
            try db.execute(sql: """
                CREATE TABLE run_ends (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    attempt INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    error TEXT,
                    ended_at REAL NOT NULL
                );
                CREATE TRIGGER runs_record_end AFTER UPDATE OF status ON runs
                WHEN NEW.status IN ('succeeded', 'failed', 'cancelled') AND OLD.status NOT IN ('succeeded', 'failed', 'cancelled')
                BEGIN
                    INSERT INTO run_ends (run_id, attempt, status, error, ended_at)
                    VALUES (NEW.id, NEW.attempt, NEW.status, NEW.error, COALESCE(NEW.ended_at, 0));
                END;
                CREATE TABLE webhooks (
                    id INTEGER PRIMARY KEY,
                    url TEXT NOT NULL UNIQUE,
                    cursor INTEGER NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE TABLE webhook_deliveries (
                    id INTEGER PRIMARY KEY,
                    delivery_id TEXT NOT NULL UNIQUE,
                    webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
                    run_end_id INTEGER NOT NULL REFERENCES run_ends(id) ON DELETE CASCADE,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    run_attempt INTEGER NOT NULL,
                    run_status TEXT NOT NULL,
                    run_error TEXT,
                    run_ended_at REAL NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL,
                    last_status_code INTEGER,
                    last_error TEXT,
                    created_at REAL NOT NULL,
                    delivered_at REAL,
                    UNIQUE (webhook_id, run_end_id)
                );
                CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_attempt_at) WHERE status = 'pending';
                CREATE INDEX webhook_deliveries_by_run ON webhook_deliveries (run_id, id);
                """)
        }
        migrator.registerMigration("v11-component-inputs") { db in
            // The operator's --env/--command/--args per component; '{}' for deployments made before.
            try db.execute(sql: "ALTER TABLE deployments ADD COLUMN components TEXT NOT NULL DEFAULT '{}'")
        }
        migrator.registerMigration("v12-clusters") { db in
            // Registered clusters (DESIGN.md "Clusters"): the kubeconfig's path and context, never credentials.
            try db.execute(sql: """
                CREATE TABLE clusters (
                    name TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    kubeconfig TEXT,
                    context TEXT,
                    in_cluster INTEGER NOT NULL DEFAULT 0,
                    config TEXT NOT NULL DEFAULT '{}',
                    created_at REAL NOT NULL
                )
                """)
        }
        migrator.registerMigration("v13-backups") { db in
            // A deleted deployment keeps its row (its runs and backups stay
            // readable) and frees its name: the name is unique among the
            // deployments not deleted only, so the table is rebuilt without
            // its UNIQUE column constraint (SQLite's documented procedure;
            // foreign keys are off during migrations).
            try db.execute(sql: """
                CREATE TABLE deployments_v13 (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    driver TEXT NOT NULL,
                    driver_version_id INTEGER NOT NULL REFERENCES driver_versions(id),
                    app_version TEXT NOT NULL,
                    parameters TEXT NOT NULL DEFAULT '{}',
                    config TEXT NOT NULL DEFAULT '{}',
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    cluster TEXT NOT NULL DEFAULT 'simulated',
                    secret_config_keys TEXT NOT NULL DEFAULT '[]',
                    components TEXT NOT NULL DEFAULT '{}',
                    deleted_at REAL
                );
                INSERT INTO deployments_v13 (id, name, driver, driver_version_id, app_version, parameters, config, created_at, updated_at,
                                             cluster, secret_config_keys, components)
                    SELECT id, name, driver, driver_version_id, app_version, parameters, config, created_at, updated_at,
                           cluster, secret_config_keys, components FROM deployments;
                DROP TABLE deployments;
                ALTER TABLE deployments_v13 RENAME TO deployments;
                CREATE UNIQUE INDEX deployments_by_name ON deployments (name) WHERE deleted_at IS NULL;
                CREATE TABLE backups (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    deployment_id INTEGER NOT NULL REFERENCES deployments(id),
                    run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
                    app_version TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    completed_at REAL,
                    artifacts TEXT
                );
                CREATE INDEX backups_by_deployment ON backups (deployment_id, id);
                CREATE UNIQUE INDEX backups_by_run ON backups (run_id);
                """)
        }
        migrator.registerMigration("v14-run-ends-by-run") { db in
            // A run's ends are deleted with it (ON DELETE CASCADE finds them by run_id).
            try db.execute(sql: "CREATE INDEX run_ends_by_run ON run_ends (run_id)")
        }
        migrator.registerMigration("v15-attempt-ends") { db in
            // How every attempt ended, including those handed to the next
            // attempt without a run end (a flow's retry, a recovery), which
            // run_ends (the webhooks' outbox) never holds. A run's end is
            // written by a trigger, with the failing action's error as it is
            // then (its traceback; the next attempt clears it); the ends
            // already in run_ends are carried over, without it.
            try db.execute(sql: """
                CREATE TABLE attempt_ends (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    attempt INTEGER NOT NULL,
                    ended_by TEXT NOT NULL,
                    status TEXT NOT NULL,
                    error TEXT,
                    action_error TEXT,
                    ended_at REAL NOT NULL
                );
                CREATE INDEX attempt_ends_by_run ON attempt_ends (run_id, attempt);
                INSERT INTO attempt_ends (run_id, attempt, ended_by, status, error, ended_at)
                    SELECT run_id, attempt, 'end', status, error, ended_at FROM run_ends ORDER BY id;
                CREATE TRIGGER runs_record_attempt_end AFTER UPDATE OF status ON runs
                WHEN NEW.status IN ('succeeded', 'failed', 'cancelled') AND OLD.status NOT IN ('succeeded', 'failed', 'cancelled')
                BEGIN
                    INSERT INTO attempt_ends (run_id, attempt, ended_by, status, error, action_error, ended_at)
                    VALUES (NEW.id, NEW.attempt, 'end', NEW.status, NEW.error,
                            (SELECT a.error FROM action_runs a
                             WHERE a.run_id = NEW.id AND a.name = CASE WHEN json_valid(NEW.error) THEN json_extract(NEW.error, '$.action') END),
                            COALESCE(NEW.ended_at, 0));
                END;
                """)
        }
        return migrator
    }()
}
