/// The backup, restore and delete routes of the OpenAPI document
/// (DESIGN.md "Backup, restore, delete"), merged into ``OpenAPIDocument/text``.
extension OpenAPIDocument {
    static let backupPaths = #"""
    {
      "/v1/backups": {
        "get": {
          "operationId": "listBackups",
          "parameters": [{"name": "deployment", "in": "query", "schema": {"type": "string"}, "description": "Only the backups of this deployment (deleted ones' included)."}],
          "responses": {
            "200": {"description": "Backups, newest first.", "content": {"application/json": {"schema": {
              "type": "object", "required": ["backups"], "properties": {"backups": {"type": "array", "items": {"$ref": "#/components/schemas/Backup"}}}}}}},
            "401": {"$ref": "#/components/responses/Error"}
          }
        }
      },
      "/v1/backups/{id}": {
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
        "get": {
          "operationId": "showBackup",
          "responses": {
            "200": {"description": "The backup.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Backup"}}}},
            "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"}
          }
        }
      },
      "/v1/deployments/{name}/backup": {
        "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
        "post": {
          "operationId": "backUpDeployment",
          "description": "Records a backup and queues its backup run; the backup is completed when the run succeeds.",
          "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
          "responses": {
            "202": {"description": "The backup and its queued run.", "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"type": "object", "required": ["backup", "run"],
                      "properties": {"backup": {"$ref": "#/components/schemas/Backup"}, "run": {"$ref": "#/components/schemas/RunSummary"}}}}}},
            "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
            "409": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}
          }
        }
      },
      "/v1/deployments/{name}/restore": {
        "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
        "post": {
          "operationId": "restoreDeployment",
          "description": "Queues a restore run from a completed backup of this deployment, taken at its app version; refused while a run of it is queued or in progress.",
          "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
          "requestBody": {"required": true, "content": {"application/json": {"schema": {
            "type": "object", "required": ["backup_id"], "additionalProperties": false,
            "properties": {"backup_id": {"type": "integer", "minimum": 1}}}}}},
          "responses": {
            "202": {"description": "The queued run.", "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunEnvelope"}}}},
            "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
            "413": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}
          }
        }
      },
      "/v1/deployments/{name}": {
        "delete": {
          "operationId": "deleteDeployment",
          "description": "Queues a delete run: it uninstalls the deployment and removes what it made; when it succeeds the deployment is gone (its runs stay readable).",
          "parameters": [
            {"$ref": "#/components/parameters/IdempotencyKey"},
            {"name": "purge_backups", "in": "query", "schema": {"type": "string", "enum": ["1", "true", "0", "false"]}, "description": "1: delete its backups too."}
          ],
          "responses": {
            "202": {"description": "The queued run.", "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunEnvelope"}}}},
            "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
            "422": {"$ref": "#/components/responses/Error"}
          }
        }
      }
    }
    """#

    static let backupSchemas = #"""
    {
      "Backup": {
        "type": "object", "required": ["id", "deployment", "app_version", "status", "components"],
        "properties": {
          "id": {"type": "integer"}, "deployment": {"type": "string"}, "app_version": {"type": "string"},
          "status": {"type": "string", "enum": ["running", "completed", "failed"]},
          "created_at": {"type": ["string", "null"]}, "completed_at": {"type": ["string", "null"]}, "run_id": {"type": ["integer", "null"]},
          "components": {"type": "object", "description": "Per component backed up: {\"strategy\", \"action\"?, \"artifacts\": [{\"kind\": dump | volume_snapshot, \"name\", \"size_bytes\", \"created_at\" (seconds since 1970), \"location\"}]}."}
        }
      }
    }
    """#
}
