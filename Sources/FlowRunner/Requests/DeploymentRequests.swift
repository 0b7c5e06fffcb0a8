import FlowModel
import StateStore

extension Engine {
    /// Changes the component inputs of deployment `name` (`deployments set`):
    /// `changes` set env values (replacing or adding) and overrides
    /// (replacing), `clearing` removes overrides and env values. The result is checked
    /// against the deployment's pinned driver version and applies from the
    /// next hook run (runs already queued keep the context they froze).
    ///
    /// - Returns: the deployment's inputs now.
    /// - Throws: ``EngineError/Code/notFound`` for an unknown deployment,
    ///   ``EngineError/Code/refused`` for inputs the driver does not allow.
    @discardableResult
    public func changeComponentInputs(
        deployment name: String, changes: ComponentInputs, clearing: Set<ComponentInputs.Clearing> = []
    ) async throws(EngineError) -> ComponentInputs {
        guard let deployment = try await stored({ () async throws(StateStoreError) in try await store.deployment(named: name) }) else {
            throw EngineError(.notFound, "unknown deployment \"\(name)\"")
        }
        let spec = try await loadDriver(versionID: deployment.driverVersionID).spec
        let changes = try changes.checked(against: spec)
        let merged = ComponentInputs(storedText: deployment.componentsJSON)
            .applying(changes, clearing: ComponentInputs.resolve(clearing, against: spec))
        try await stored { () async throws(StateStoreError) in
            try await store.setDeploymentComponents(id: deployment.id, componentsJSON: merged.json.jsonText)
        }
        return merged
    }
}
