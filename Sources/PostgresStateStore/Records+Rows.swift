import FlowModel
import Foundation
import PostgresNIO
import StateStore

// The store's records read from rows: the columns as the schema names them
// (and the joined names the queries give: `deployment_name`, `run_status`, ...).

extension DriverVersionRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.value("id"), driver: try row.value("driver"), number: try row.value("number"),
            specVersion: try row.value("spec_version"), digest: try row.value("digest"), loadedAt: try row.requiredDate("loaded_at"),
            sourceDirectory: try row.value("source_directory")
        )
    }
}

extension DeploymentRecord {
    init(row: PostgresRandomAccessRow) throws {
        let secretKeys = try row.value("secret_config_keys", as: String.self)
        self.init(
            id: try row.value("id"), name: try row.value("name"), driver: try row.value("driver"),
            driverVersionID: try row.value("driver_version_id"), appVersion: try row.value("app_version"),
            parametersJSON: try row.value("parameters"), configJSON: try row.value("config"), cluster: try row.value("cluster"),
            createdAt: try row.requiredDate("created_at"), updatedAt: try row.requiredDate("updated_at"),
            secretConfigKeys: JSONValue(storedText: secretKeys)?.arrayValue?.compactMap(\.stringValue) ?? [],
            componentsJSON: try row.value("components"), deletedAt: try row.date("deleted_at")
        )
    }
}

extension RunRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.value("id"), deploymentID: try row.value("deployment_id"), deployment: try row.value("deployment_name"),
            hook: try row.word("hook", of: "runs"), status: try row.word("status", of: "runs"), attempt: try row.value("attempt"),
            inputsJSON: try row.value("inputs"), contextJSON: try row.value("context"), driverVersionID: try row.value("driver_version_id"),
            idempotencyKey: try row.value("idempotency_key"),
            leaseOwner: try row.value("lease_owner", as: String?.self).flatMap(LeaseOwner.init),
            leaseExpiresAt: try row.date("lease_expires_at"), notBefore: try row.date("not_before"),
            createdAt: try row.requiredDate("created_at"), startedAt: try row.date("started_at"), endedAt: try row.date("ended_at"),
            errorJSON: try row.value("error"), replayJSON: try row.value("replay"), requestDigest: try row.value("request_digest")
        )
    }
}

extension ActionRunRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.value("id"), runID: try row.value("run_id"), name: try row.value("name"), mode: try row.word("mode", of: "action_runs"),
            position: try row.value("position"), status: try row.word("status", of: "action_runs"), attempts: try row.value("attempts"),
            errorJSON: try row.value("error"), startedAt: try row.date("started_at"), endedAt: try row.date("ended_at"),
            isolation: try row.value("isolation")
        )
    }
}

extension StepRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.value("id"), actionRunID: try row.value("action_run_id"), attempt: try row.value("attempt"), seq: try row.value("seq"),
            kind: try row.word("kind", of: "steps"), name: try row.value("name"), argsJSON: try row.value("args"),
            argsDigest: try row.value("args_digest"), status: try row.word("status", of: "steps"), replayed: try row.value("replayed"),
            resultJSON: try row.value("result"), errorJSON: try row.value("error"), startedAt: try row.requiredDate("started_at"),
            endedAt: try row.date("ended_at"), divergenceJSON: try row.value("divergence")
        )
    }
}

extension LogRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.value("id"), runID: try row.value("run_id"), action: try row.value("action"), attempt: try row.value("attempt"),
            time: try row.requiredDate("time"), level: LogLevel(rawValue: try row.value("level")) ?? .info,
            logger: try row.value("logger"), message: try row.value("message")
        )
    }
}

extension BackupRecord {
    init(row: PostgresRandomAccessRow) throws {
        let runStatus: RunStatus? = try row.value("run_status", as: String?.self) == nil ? nil : try row.word("run_status", of: "runs")
        self.init(
            id: try row.value("id"), deploymentID: try row.value("deployment_id"), deployment: try row.value("deployment_name"),
            runID: try row.value("run_id"), runStatus: runStatus, appVersion: try row.value("app_version"),
            createdAt: try row.requiredDate("created_at"), completedAt: try row.date("completed_at"), artifactsJSON: try row.value("artifacts")
        )
    }
}

extension ClusterRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            name: try row.value("name"), kind: try row.word("kind", of: "clusters"), kubeconfig: try row.value("kubeconfig"),
            context: try row.value("context"), inCluster: try row.value("in_cluster"), configJSON: try row.value("config"),
            createdAt: try row.requiredDate("created_at")
        )
    }
}

extension AttemptEnd {
    init(row: PostgresRandomAccessRow) throws {
        self.init(attempt: try row.value("attempt"), endedBy: try row.word("ended_by", of: "attempt_ends"),
                  status: try row.word("status", of: "attempt_ends"), errorJSON: try row.value("error"),
                  actionErrorJSON: try row.value("action_error"), endedAt: try row.requiredDate("ended_at"))
    }
}

extension WebhookRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(id: try row.value("id"), url: try row.value("url"), createdAt: try row.requiredDate("created_at"))
    }
}

extension WebhookDeliveryRecord {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.value("id"), deliveryID: try row.value("delivery_id"), webhookID: try row.value("webhook_id"),
            url: try row.value("webhook_url"), runID: try row.value("run_id"), deployment: try row.value("deployment_name"),
            hook: try row.word("run_hook", of: "runs"), runAttempt: try row.value("run_attempt"),
            runStatus: try row.word("run_status", of: "webhook_deliveries"), runErrorJSON: try row.value("run_error"),
            runEndedAt: try row.requiredDate("run_ended_at"), status: try row.word("status", of: "webhook_deliveries"),
            attempts: try row.value("attempts"), nextAttemptAt: try row.date("next_attempt_at"),
            lastStatusCode: try row.value("last_status_code"), lastError: try row.value("last_error"),
            createdAt: try row.requiredDate("created_at"), deliveredAt: try row.date("delivered_at")
        )
    }
}
