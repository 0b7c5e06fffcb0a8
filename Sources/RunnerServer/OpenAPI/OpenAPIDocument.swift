import FlowModel

/// The OpenAPI 3.1 document of every route (`GET /v1/openapi.json`): paths,
/// parameters, the schema of every request and response body, and the one
/// error shape. Kept beside the routes it describes; the end-to-end tests
/// check it against the running server (every path answers, and a
/// property-based run of schemathesis finds no 5xx).
enum OpenAPIDocument {
    /// The document as JSON text: ``core`` with the paths and schemas of
    /// ``backupPaths`` and ``backupSchemas`` merged in.
    static let text: String = {
        guard case .object(var document) = (try? JSONValue(jsonText: core)) ?? .null,
              case .object(var paths) = document["paths"] ?? .null, case .object(var components) = document["components"] ?? .null,
              case .object(var schemas) = components["schemas"] ?? .null,
              case .object(let extraPaths) = (try? JSONValue(jsonText: backupPaths)) ?? .null,
              case .object(let extraSchemas) = (try? JSONValue(jsonText: backupSchemas)) ?? .null else { return core }
        paths.merge(extraPaths) { current, extra in
            guard case .object(var merged) = current, case .object(let more) = extra else { return extra }
            merged.merge(more) { _, new in new }
            return .object(merged)
        }
        schemas.merge(extraSchemas) { _, new in new }
        components["schemas"] = .object(schemas)
        document["paths"] = .object(paths)
        document["components"] = .object(components)
        return JSONValue.object(document).jsonText
    }()

    /// The routes that came before backups.
    static let core = #"""
    {
      "openapi": "3.1.0",
      "info": {
        "title": "FlowRunner runner service",
        "version": "1",
        "description": "Durable hook runs of application drivers: load drivers, create deployments (their setup hook), queue upgrade hooks, follow, retry and cancel runs. Every route but /healthz needs Authorization: Bearer TOKEN when serve has a token."
      },
      "servers": [{"url": "/"}],
      "security": [{"bearer": []}],
      "paths": {
        "/healthz": {
          "get": {
            "operationId": "health", "security": [],
            "responses": {
              "200": {"description": "The state store answers.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
              "503": {"description": "The state store does not answer.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
            }
          }
        },
        "/metrics": {
          "get": {
            "operationId": "metrics",
            "responses": {
              "200": {"description": "Prometheus text exposition format 0.0.4.", "content": {"text/plain": {"schema": {"type": "string"}}}},
              "401": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/openapi.json": {
          "get": {
            "operationId": "openAPIDocument",
            "responses": {
              "200": {"description": "This document.", "content": {"application/json": {"schema": {"type": "object"}}}},
              "401": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/drivers": {
          "get": {
            "operationId": "listDrivers",
            "responses": {
              "200": {"description": "Every stored driver version.", "content": {"application/json": {"schema": {
                "type": "object", "required": ["drivers"],
                "properties": {"drivers": {"type": "array", "items": {"$ref": "#/components/schemas/DriverVersion"}}}}}}},
              "401": {"$ref": "#/components/responses/Error"}
            }
          },
          "post": {
            "operationId": "loadDriver",
            "description": "A driver directory on the server's machine. The same route also takes the directory as a tar archive (the body of uploadDriver).",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
              "type": "object", "required": ["path"], "additionalProperties": false,
              "properties": {"path": {"type": "string", "description": "An absolute directory on the server's machine holding driver.styrmin.yml and its action files."}}}}}},
            "responses": {
              "200": {"$ref": "#/components/responses/DriverUnchanged"}, "201": {"$ref": "#/components/responses/DriverStored"},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "413": {"$ref": "#/components/responses/Error"}, "415": {"$ref": "#/components/responses/Error"},
              "422": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/drivers/archive": {
          "post": {
            "operationId": "uploadDriver",
            "description": "The driver directory uploaded as a tar archive; one body type per operation, so every client generator handles it.",
            "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary",
              "description": "A tar archive (gzip, bzip2, xz or uncompressed; also sent as application/gzip or application/x-tar): regular files and directories only, the driver's files at the top or in one top-level directory."}}}},
            "responses": {
              "200": {"$ref": "#/components/responses/DriverUnchanged"}, "201": {"$ref": "#/components/responses/DriverStored"},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "413": {"$ref": "#/components/responses/Error"}, "415": {"$ref": "#/components/responses/Error"},
              "422": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/clusters": {
          "get": {
            "operationId": "listClusters",
            "responses": {
              "200": {"description": "The embedded simulated cluster, then the registered ones.", "content": {"application/json": {"schema": {
                "type": "object", "required": ["clusters"],
                "properties": {"clusters": {"type": "array", "items": {"$ref": "#/components/schemas/Cluster"}}}}}}},
              "401": {"$ref": "#/components/responses/Error"}
            }
          },
          "post": {
            "operationId": "registerCluster",
            "description": "Registers a Kubernetes cluster; its kubeconfig (a path on the server) or service account is read as a connection would.",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
              "type": "object", "required": ["name", "kubernetes"], "additionalProperties": false,
              "properties": {
                "name": {"type": "string", "description": "A DNS label."},
                "kubernetes": {"type": "object", "additionalProperties": false,
                               "properties": {"kubeconfig": {"type": "string"}, "context": {"type": "string"}, "in_cluster": {"type": "boolean"}}},
                "config": {"type": "object", "description": "The first layer of instance.config (fqdn_suffix, ingress_class, chart_repository, ...)."}}}}}},
            "responses": {
              "201": {"description": "The cluster.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cluster"}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "409": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"},
              "415": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/deployments": {
          "get": {
            "operationId": "listDeployments",
            "responses": {
              "200": {"description": "Every deployment.", "content": {"application/json": {"schema": {
                "type": "object", "required": ["deployments"],
                "properties": {"deployments": {"type": "array", "items": {"$ref": "#/components/schemas/Deployment"}}}}}}},
              "401": {"$ref": "#/components/responses/Error"}
            }
          },
          "post": {
            "operationId": "createDeployment",
            "description": "Creates the deployment and queues its setup hook.",
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
              "type": "object", "required": ["name", "driver", "app_version"], "additionalProperties": false,
              "properties": {
                "name": {"type": "string"}, "driver": {"type": "string"}, "app_version": {"type": "string"},
                "parameters": {"type": "object", "description": "Values of the driver's parameters, by name."},
                "config": {"type": "object"}, "secret_config": {"type": "object"},
                "cluster": {"type": "string", "description": "The cluster to act on (simulated by default)."},
                "env": {"$ref": "#/components/schemas/ComponentEnv"}, "command": {"$ref": "#/components/schemas/ComponentOverrides"},
                "args": {"$ref": "#/components/schemas/ComponentOverrides"}}}}}},
            "responses": {
              "202": {"description": "The deployment and its queued setup run.", "headers": {"Location": {"schema": {"type": "string"}}},
                      "content": {"application/json": {"schema": {
                        "type": "object", "required": ["deployment", "run"],
                        "properties": {"deployment": {"$ref": "#/components/schemas/Deployment"}, "run": {"$ref": "#/components/schemas/RunSummary"}}}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
              "413": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/deployments/{name}": {
          "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
          "get": {
            "operationId": "showDeployment",
            "responses": {
              "200": {"description": "The deployment, its cluster's view and its recent runs.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Deployment"}}}},
              "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}
            }
          },
          "patch": {
            "operationId": "changeDeployment",
            "description": "Changes the deployment's component inputs; they apply from its next hook run.",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
              "type": "object", "additionalProperties": false,
              "properties": {"env": {"$ref": "#/components/schemas/ComponentEnv"}, "command": {"$ref": "#/components/schemas/ComponentOverrides"},
                             "args": {"$ref": "#/components/schemas/ComponentOverrides"}}}}}},
            "responses": {
              "200": {"description": "The deployment as it is now.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Deployment"}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"},
              "415": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/deployments/{name}/hooks/{hook}": {
          "parameters": [
            {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
            {"name": "hook", "in": "path", "required": true, "schema": {"type": "string", "enum": ["upgrade", "setup"]},
             "description": "upgrade; setup runs when the deployment is created (409 here); backup, restore and delete have routes of their own."}
          ],
          "post": {
            "operationId": "runHook",
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
              "type": "object", "required": ["target_version"], "additionalProperties": false,
              "properties": {
                "target_version": {"type": "string"},
                "driver_version": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "const": "latest"}, {"type": "null"}]}}}}}},
            "responses": {
              "202": {"description": "The queued run.", "headers": {"Location": {"schema": {"type": "string"}}},
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunEnvelope"}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
              "413": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/runs": {
          "get": {
            "operationId": "listRuns",
            "parameters": [
              {"name": "deployment", "in": "query", "schema": {"type": "string"}},
              {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["queued", "running", "cancelling", "succeeded", "failed", "cancelled"]}},
              {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
              {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "next_before of the previous page."}
            ],
            "responses": {
              "200": {"description": "Runs, newest first.", "content": {"application/json": {"schema": {
                "type": "object", "required": ["runs", "next_before"],
                "properties": {"runs": {"type": "array", "items": {"$ref": "#/components/schemas/RunSummary"}},
                               "next_before": {"type": ["integer", "null"]}}}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/runs/{id}": {
          "parameters": [{"$ref": "#/components/parameters/RunID"}],
          "get": {
            "operationId": "showRun",
            "responses": {
              "200": {"description": "The run with its actions and steps (runs show --output json).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunReport"}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/runs/{id}/retry": {
          "parameters": [{"$ref": "#/components/parameters/RunID"}],
          "post": {
            "operationId": "retryRun",
            "requestBody": {"required": false, "content": {"application/json": {"schema": {
              "type": "object", "additionalProperties": false,
              "properties": {
                "from_step": {"type": ["integer", "null"], "minimum": 1},
                "restart": {"type": ["boolean", "null"]},
                "plan_only": {"type": ["boolean", "null"], "description": "true: answer what the retry would replay and run; queue nothing."},
                "driver_version": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "const": "latest"}, {"type": "null"}]}}}}}},
            "responses": {
              "200": {"description": "With plan_only: the plan, per action and step (plan: replay, adopt or run).", "content": {"application/json": {"schema": {
                "type": "object", "required": ["plan"], "properties": {"plan": {"type": "object", "required": ["run", "attempt", "replay", "actions"]}}}}}},
              "202": {"description": "The run, queued for its next attempt.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunEnvelope"}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
              "413": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/runs/{id}/cancel": {
          "parameters": [{"$ref": "#/components/parameters/RunID"}],
          "post": {
            "operationId": "cancelRun",
            "responses": {
              "202": {"description": "Cancelled (queued) or cancelling (its worker stops the action).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunEnvelope"}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}
            }
          }
        },
        "/v1/runs/{id}/logs": {
          "parameters": [{"$ref": "#/components/parameters/RunID"}],
          "get": {
            "operationId": "runLogs",
            "parameters": [
              {"name": "follow", "in": "query", "schema": {"type": "string", "enum": ["1", "true", "0", "false"]},
               "description": "1: Server-Sent Events until the run ends."},
              {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "Only lines after this id."},
              {"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer", "minimum": 0}, "description": "Resume a stream after this line id."}
            ],
            "responses": {
              "200": {"description": "The lines as JSON, or as text/event-stream: one log event per line (id: the line's id, data: a LogLine), then an end event {status, last_id}.",
                      "content": {
                        "application/json": {"schema": {"type": "object", "required": ["lines", "run_status"],
                          "properties": {"lines": {"type": "array", "items": {"$ref": "#/components/schemas/LogLine"}}, "run_status": {"type": "string"}}}},
                        "text/event-stream": {"schema": {"type": "string"}}}},
              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}
            }
          }
        }
      },
      "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "parameters": {
          "RunID": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}},
          "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                             "description": "The same key with the same body returns the same run; another body 422; still in flight 409."}
        },
        "responses": {
          "Error": {"description": "An error.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "DriverUnchanged": {"description": "The same content was stored before.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DriverVersion"}}}},
          "DriverStored": {"description": "A new driver version.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DriverVersion"}}}}
        },
        "schemas": {
          "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"],
              "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}
          },
          "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}}},
          "DriverVersion": {
            "type": "object", "required": ["name", "version", "digest"],
            "properties": {"name": {"type": "string"}, "version": {"type": "integer"}, "spec_version": {"type": "string"},
                           "digest": {"type": "string"}, "loaded_at": {"type": ["string", "null"]}, "created": {"type": "boolean"},
                           "warnings": {"type": "array", "items": {"type": "string"}}}
          },
          "Cluster": {
            "type": "object", "required": ["name", "kind", "config", "deployments"],
            "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": ["simulated", "kubernetes"]},
                           "kubeconfig": {"type": ["string", "null"], "description": "A path: credentials are never stored or shown."},
                           "context": {"type": ["string", "null"]}, "in_cluster": {"type": "boolean"}, "config": {"type": "object"},
                           "created_at": {"type": ["string", "null"]}, "deployments": {"type": "array", "items": {"type": "string"}}}
          },
          "Deployment": {
            "type": "object", "required": ["name", "driver", "app_version"],
            "properties": {"name": {"type": "string"}, "driver": {"type": "string"}, "driver_version": {"type": ["integer", "null"]},
                           "app_version": {"type": "string"}, "parameters": {"type": "object"}, "config": {"type": "object"},
                           "cluster_name": {"type": "string"}, "created_at": {"type": ["string", "null"]}, "updated_at": {"type": ["string", "null"]},
                           "components": {"type": "object", "description": "The operator's inputs per component: {COMPONENT: {\"env\", \"command\", \"args\"}}."}}
          },
          "RunSummary": {
            "type": "object", "required": ["id", "deployment", "hook", "status", "attempt"],
            "properties": {"id": {"type": "integer"}, "deployment": {"type": "string"}, "hook": {"type": "string"},
                           "status": {"type": "string", "enum": ["queued", "running", "cancelling", "succeeded", "failed", "cancelled"]},
                           "attempt": {"type": "integer"}, "created_at": {"type": ["string", "null"]}, "started_at": {"type": ["string", "null"]},
                           "ended_at": {"type": ["string", "null"]}, "error": {"type": ["object", "null"]},
                           "waiting_reason": {"type": ["string", "null"]}}
          },
          "RunEnvelope": {"type": "object", "required": ["run"], "properties": {"run": {"$ref": "#/components/schemas/RunSummary"}}},
          "RunReport": {
            "type": "object", "required": ["id", "deployment", "hook", "status", "attempt", "actions"],
            "properties": {"id": {"type": "integer"}, "deployment": {"type": "string"}, "hook": {"type": "string"}, "status": {"type": "string"},
                           "attempt": {"type": "integer"}, "inputs": {"type": "object"}, "driver": {"type": ["object", "null"]},
                           "error": {"type": ["object", "null"]}, "waiting_reason": {"type": ["string", "null"]},
                           "actions": {"type": "array", "items": {"type": "object", "properties": {
                             "name": {"type": "string"}, "mode": {"type": "string"}, "status": {"type": "string"}, "attempts": {"type": "integer"},
                             "steps": {"type": "array", "items": {"type": "object", "properties": {
                               "seq": {"type": "integer"}, "attempt": {"type": "integer"}, "kind": {"type": "string"}, "name": {"type": "string"},
                               "status": {"type": "string"}, "replayed": {"type": "boolean"}, "waiting_reason": {"type": ["string", "null"]}}}}}}},
                           "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/AttemptEnd"},
                                        "description": "How each ended attempt ended, in attempt order; a retry clears the run's error, not these."},
                           "webhook_deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookDelivery"}}}
          },
          "AttemptEnd": {
            "type": "object", "required": ["attempt", "status", "error", "ended_at"],
            "properties": {"attempt": {"type": "integer", "minimum": 1},
                           "ended_by": {"type": "string", "enum": ["end", "retry", "recovery"],
                                        "description": "end: the run ended; retry: the flow's own retries began the next attempt; recovery: the run's worker was lost and the run went back to the queue."},
                           "status": {"type": "string", "enum": ["succeeded", "failed", "cancelled"],
                                      "description": "failed for an attempt handed on by a retry or a recovery."},
                           "error": {"type": ["object", "null"], "description": "The run's error when the attempt ended, shaped as the run's error, with the failing action's traceback when it has one; for a recovery {type: LeaseExpired or WorkerGone, message}."},
                           "action_error": {"type": ["object", "null"], "description": "The failing action's own error as it was when the attempt ended (null when none, or ended before it was kept)."},
                           "ended_at": {"type": "string"}}
          },
          "ComponentEnv": {
            "type": "object", "description": "Env var values per component: {COMPONENT: {NAME: VALUE}}; in a PATCH, null removes one.",
            "additionalProperties": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
          },
          "ComponentOverrides": {
            "type": "object", "description": "A container override per component (command or args): a list of strings, or null to clear it.",
            "additionalProperties": {"type": ["array", "null"], "items": {"type": "string"}}
          },
          "WebhookDelivery": {
            "type": "object", "required": ["id", "url", "run_attempt", "run_status", "status", "attempts"],
            "properties": {"id": {"type": "string", "description": "the webhook-id header of every attempt"}, "url": {"type": "string"},
                           "run_attempt": {"type": "integer"}, "run_status": {"type": "string"},
                           "status": {"type": "string", "enum": ["pending", "delivered", "failed"]}, "attempts": {"type": "integer"},
                           "last_status_code": {"type": ["integer", "null"]}, "last_error": {"type": ["string", "null"]},
                           "next_attempt_at": {"type": ["string", "null"]}, "delivered_at": {"type": ["string", "null"]},
                           "created_at": {"type": ["string", "null"]}}
          },
          "LogLine": {
            "type": "object", "required": ["id", "level", "message"],
            "properties": {"id": {"type": "integer"}, "time": {"type": ["string", "null"]}, "level": {"type": "string"}, "logger": {"type": "string"},
                           "action": {"type": ["string", "null"]}, "attempt": {"type": "integer"}, "message": {"type": "string"}}
          }
        }
      }
    }
    """#
}
