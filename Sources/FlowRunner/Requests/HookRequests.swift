import DriverSpec
public import FlowModel
import Foundation
public import StateStore

extension Engine {
    /// Validates and records a setup hook for a new deployment on `cluster`.
    ///
    /// Throws ``EngineError/Code/badInput`` for an invalid name, version or
    /// parameter, ``EngineError/Code/notFound`` for an unknown driver or
    /// cluster, ``EngineError/Code/conflict`` when the deployment exists
    /// (unless `idempotencyKey` names its earlier setup run, which is then
    /// returned), ``EngineError/Code/refused`` when that key came with another
    /// `requestDigest`. A refusal stores nothing.
    public func requestSetup(
        deployment name: String, driver: String, appVersion: String, cluster: String,
        parameters: [String: ParameterInput] = [:], config: [String: JSONValue] = [:], secretConfig: [String: JSONValue] = [:],
        components: ComponentInputs = ComponentInputs(), idempotencyKey: String? = nil, requestDigest: String? = nil
    ) async throws(EngineError) -> (deployment: DeploymentRecord, run: RunRecord) {
        if let both = Set(config.keys).intersection(secretConfig.keys).sorted().first {
            throw EngineError(.badInput, "config key \"\(both)\" is given both plainly and as a secret; give it once")
        }
        let config = config.merging(secretConfig) { plain, _ in plain }
        guard Self.isValidDeploymentName(name) else {
            throw EngineError(.badInput, "invalid deployment name \"\(name)\" (expected up to 53 letters, digits, '-', '_' or '.')")
        }
        if let existing = try await stored({ () async throws(StateStoreError) in try await store.deployment(named: name) }) {
            if let idempotencyKey, let run = try await runWithKey(idempotencyKey, deployment: name, id: existing.id, requestDigest: requestDigest) {
                return (existing, run)
            }
            throw EngineError(.conflict, "deployment \"\(name)\" already exists (driver \(existing.driver), version \(existing.appVersion)); use upgrade")
        }
        let known = await clusters.clusterNames
        guard known.contains(cluster) else {
            throw EngineError(.notFound, "unknown cluster \"\(cluster)\" (known: \(known.joined(separator: ", ")))")
        }
        guard let version = try await stored({ () async throws(StateStoreError) in try await store.driverVersion(driver: driver) }) else {
            let loaded = (try? await store.driverVersions()).map { Array(Set($0.map(\.driver))).sorted() } ?? []
            let list = loaded.isEmpty ? "no drivers are loaded; load one with: flowrunner drivers load DIR" : "loaded: " + loaded.joined(separator: ", ")
            throw EngineError(.notFound, "unknown driver \"\(driver)\" (\(list))")
        }
        let spec = try await loadDriver(versionID: version.id).spec
        try Self.checkVersion(appVersion, spec: spec, field: "app_version")
        try await checkCluster(cluster, against: spec)
        do {
            try await clusters.check(deployment: name, config: config, cluster: cluster)
        } catch {
            throw EngineError(.refused, error.message, field: "name")
        }
        let resolved = try ParameterResolver.resolve(parameters, spec: spec)
        let components = try components.checked(against: spec)
        let context = GlobalContextBuilder(
            spec: spec, deployment: name, driverVersion: version.number, appVersion: appVersion, previousVersion: nil,
            parameters: resolved, config: config, clusterName: cluster, clusterConfig: try await clusterConfiguration(cluster), inputs: components
        ).build()
        let inputs: JSONValue = [
            "target_version": .string(appVersion), "current_version": .null,
            "parameters": .object(resolved), "config": .object(config),
        ]
        let new = NewDeployment(
            name: name, driver: spec.name, driverVersionID: version.id, appVersion: appVersion,
            parametersJSON: Self.json(.object(resolved)), configJSON: Self.json(.object(config)), cluster: cluster,
            secretConfigKeys: Array(secretConfig.keys), componentsJSON: Self.json(components.json)
        )
        let deployment = try await stored { () async throws(StateStoreError) in try await store.createDeployment(new) }
        let run = try await stored { () async throws(StateStoreError) in
            try await store.createRun(NewRun(
                deploymentID: deployment.id, hook: .setup, inputsJSON: Self.json(inputs),
                contextJSON: Self.json(context), driverVersionID: version.id, idempotencyKey: idempotencyKey,
                requestDigest: requestDigest
            )).record
        }
        return (deployment, run)
    }

    /// Records a deployment that is already installed at `appVersion` (no
    /// setup run): for dry-runs of an upgrade, or to adopt an existing
    /// installation. Parameters are checked like ``requestSetup(deployment:driver:appVersion:cluster:parameters:config:secretConfig:idempotencyKey:)``'s.
    public func adoptDeployment(
        name: String, driverVersionID: RecordID, appVersion: String, cluster: String,
        parameters: [String: ParameterInput] = [:], config: [String: JSONValue] = [:]
    ) async throws(EngineError) -> DeploymentRecord {
        guard Self.isValidDeploymentName(name) else {
            throw EngineError(.badInput, "invalid deployment name \"\(name)\"")
        }
        let driver = try await loadDriver(versionID: driverVersionID)
        try Self.checkVersion(appVersion, spec: driver.spec, field: "app_version")
        let resolved = try ParameterResolver.resolve(parameters, spec: driver.spec)
        let new = NewDeployment(
            name: name, driver: driver.record.driver, driverVersionID: driver.record.id, appVersion: appVersion,
            parametersJSON: Self.json(.object(resolved)), configJSON: Self.json(.object(config)), cluster: cluster
        )
        return try await stored { () async throws(StateStoreError) in try await store.createDeployment(new) }
    }

    /// Validates and records an upgrade hook (`driverVersion`: nil keeps the
    /// deployment's pinned version; 0 means the newest loaded version).
    /// Throws like ``requestSetup(deployment:driver:appVersion:cluster:parameters:config:secretConfig:idempotencyKey:)``.
    public func requestUpgrade(
        deployment name: String, targetVersion: String, driverVersion: Int? = nil, idempotencyKey: String? = nil,
        requestDigest: String? = nil
    ) async throws(EngineError) -> RunRecord {
        let deployment = try await existingDeployment(name)
        if let idempotencyKey, let run = try await runWithKey(idempotencyKey, deployment: name, id: deployment.id, requestDigest: requestDigest) {
            return run
        }
        try await refuseBehindAbandonedRun(deployment: name)
        let versionID = try await selectDriverVersion(deployment: deployment, number: driverVersion)
        let driver = try await loadDriver(versionID: versionID)
        try Self.checkVersion(targetVersion, spec: driver.spec, field: "target_version")
        try await checkCluster(deployment.cluster, against: driver.spec)
        try Self.checkComponentInputs(of: deployment, against: driver)
        let (inputs, context) = Self.upgradeInputs(deployment: deployment, driver: driver, targetVersion: targetVersion,
                                                   clusterConfig: try await clusterConfiguration(deployment.cluster))
        return try await stored { () async throws(StateStoreError) in
            try await store.createRun(NewRun(
                deploymentID: deployment.id, hook: .upgrade, inputsJSON: Self.json(inputs),
                contextJSON: Self.json(context), driverVersionID: driver.record.id, idempotencyKey: idempotencyKey,
                requestDigest: requestDigest
            )).record
        }
    }

    /// Refuses an upgrade to a driver version that no longer allows the
    /// deployment's stored component inputs (a component or override it
    /// dropped): applied silently, they would reach a chart that no longer
    /// reads them, or the wrong container.
    static func checkComponentInputs(of deployment: DeploymentRecord, against driver: LoadedDriverVersion) throws(EngineError) {
        do {
            _ = try ComponentInputs(storedText: deployment.componentsJSON).checked(against: driver.spec)
        } catch {
            throw EngineError(.refused, "the component inputs of deployment \(deployment.name) do not fit driver \(driver.spec.name) "
                + "version \(driver.record.number): \(error.message); change them first with: flowrunner deployments set \(deployment.name) "
                + "(--env COMPONENT.NAME- removes an env value, --command COMPONENT=null or --args COMPONENT=null an override)",
                field: error.field)
        }
    }

    /// The inputs and GlobalContext of an upgrade of `deployment` as it is now.
    static func upgradeInputs(
        deployment: DeploymentRecord, driver: LoadedDriverVersion, targetVersion: String, clusterConfig: [String: JSONValue]
    ) -> (inputs: JSONValue, context: JSONValue) {
        let parameters = object(deployment.parametersJSON)
        let context = GlobalContextBuilder(
            spec: driver.spec, deployment: deployment.name, driverVersion: driver.record.number, appVersion: targetVersion,
            previousVersion: deployment.appVersion, parameters: parameters, config: object(deployment.configJSON),
            clusterName: deployment.cluster, clusterConfig: clusterConfig, inputs: ComponentInputs(storedText: deployment.componentsJSON)
        ).build()
        let inputs: JSONValue = [
            "target_version": .string(targetVersion), "current_version": .string(deployment.appVersion),
            "parameters": .object(parameters),
        ]
        return (inputs, context)
    }

    /// An upgrade that waited in the queue while the deployment changed (an
    /// earlier run upgraded it) is frozen again when it first starts, so its
    /// `current_version` and `app.previous_version` are the deployment's now.
    func refreezeIfWaited(_ run: RunRecord, deployment: DeploymentRecord, driver: LoadedDriverVersion) async throws(EngineError) -> RunRecord {
        guard run.hook == .upgrade, run.attempt == 1,
              let inputs = JSONValue(storedText: run.inputsJSON), let target = inputs["target_version"]?.stringValue,
              inputs["current_version"]?.stringValue != deployment.appVersion else { return run }
        let started = try await stored { () async throws(StateStoreError) in try await store.actionRuns(runID: run.id) }
        guard started.isEmpty else { return run }
        let (fresh, context) = Self.upgradeInputs(deployment: deployment, driver: driver, targetVersion: target,
                                                  clusterConfig: try await clusterConfiguration(deployment.cluster))
        return try await stored { () async throws(StateStoreError) in
            try await store.refreezeRun(id: run.id, inputsJSON: Self.json(fresh), contextJSON: Self.json(context))
        }
    }

    /// The run of `deployment` created with `key`, if any. Throws
    /// ``EngineError/Code/refused`` when that run was created by another
    /// request (its digest differs from `requestDigest`), as the IETF
    /// Idempotency-Key draft has it: a key names one request.
    ///
    /// Keys belong to one deployment: with `id`, only its runs count (a
    /// deployment deleted and made again under its name starts with no
    /// keys); without, the newest deployment of that name that used the key
    /// (a request repeated after it deleted the deployment).
    func runWithKey(_ key: String, deployment: String, id: RecordID?, requestDigest: String?) async throws(EngineError) -> RunRecord? {
        let run = try await stored { () async throws(StateStoreError) in
            try await store.runs(matching: RunFilter(deployment: deployment, limit: 1_000)).first {
                $0.idempotencyKey == key && (id == nil || $0.deploymentID == id)
            }
        }
        if let run, let requestDigest, let recorded = run.requestDigest, recorded != requestDigest {
            throw EngineError(.refused, "Idempotency-Key \"\(key)\" was used for another request (run \(run.id), \(run.hook.rawValue) of \(deployment)); "
                + "send a new key for a new request", field: "Idempotency-Key")
        }
        return run
    }

    /// The id of driver version `number` of the deployment's driver (0: the
    /// newest), or the pinned one when `number` is nil.
    func selectDriverVersion(deployment: DeploymentRecord, number: Int?) async throws(EngineError) -> RecordID {
        guard let number else { return deployment.driverVersionID }
        let selected = try await stored { () async throws(StateStoreError) in
            try await store.driverVersion(driver: deployment.driver, number: number == 0 ? nil : number)
        }
        guard let selected else {
            throw EngineError(.notFound, "driver \(deployment.driver) has no version \(number)")
        }
        return selected.id
    }

    // MARK: Helpers

    /// Letters, digits, '-', '_' and '.', starting with a letter or digit, at most 53 characters.
    static func isValidDeploymentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 53,
              first.properties.isAlphabetic || ("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    /// Refuses a version that does not parse (``EngineError/Code/badInput``)
    /// or lies outside the driver's `supported_versions` (``EngineError/Code/refused``);
    /// `field` names the request field for the HTTP API.
    static func checkVersion(_ text: String, spec: DriverSpecification, field: String) throws(EngineError) {
        let version: Version
        do {
            version = try Version(text)
        } catch {
            throw EngineError(.badInput, error.description, field: field)
        }
        if let supported = spec.supportedVersions, !supported.contains(version, includePrereleases: true) {
            throw EngineError(.refused, "version \(text) is outside supported_versions \"\(supported)\" of driver \(spec.name)", field: field)
        }
    }

    static func json(_ value: JSONValue) -> String {
        value.jsonText
    }

    static func object(_ text: String?) -> [String: JSONValue] {
        guard let text, let value = try? JSONValue(jsonText: text), case .object(let members) = value else { return [:] }
        return members
    }

    /// Refuses, before anything is created, cluster settings that do not fit the driver.
    /// The configuration of `cluster`, the first layer of a deployment's `instance.config`.
    func clusterConfiguration(_ cluster: String) async throws(EngineError) -> [String: JSONValue] {
        do {
            return try await clusters.configuration(cluster: cluster)
        } catch {
            throw EngineError(error.code == .notFound ? .notFound : .failed, error.message, field: "cluster")
        }
    }

    func checkCluster(_ cluster: String, against spec: DriverSpecification) async throws(EngineError) {
        do {
            try await clusters.check(cluster: cluster, against: spec)
        } catch {
            throw EngineError(.refused, error.message, field: "cluster")
        }
    }

    /// Refuses, before anything is created, a run that could only wait behind
    /// a run of the same deployment whose worker is gone: nothing would work
    /// it until that run is resumed or cancelled.
    func refuseBehindAbandonedRun(deployment name: String) async throws(EngineError) {
        if let blocker = try await abandonedRun(ofDeployment: name) {
            throw EngineError(.conflict, "deployment \(name) has run \(blocker.id), whose worker "
                + "(\(blocker.leaseOwner?.description ?? "unknown")) is gone; resume it with `flowrunner runs retry \(blocker.id)` "
                + "or stop it with `flowrunner runs cancel \(blocker.id)`, then try again")
        }
    }

    /// A running or cancelling run of the deployment whose worker is gone
    /// (``RunRecord/isAbandoned(now:)`` by the store's clock), or nil.
    public func abandonedRun(ofDeployment name: String) async throws(EngineError) -> RunRecord? {
        let active = try await stored { () async throws(StateStoreError) in
            try await store.runs(matching: RunFilter(deployment: name, status: .running, limit: 5))
                + store.runs(matching: RunFilter(deployment: name, status: .cancelling, limit: 5))
        }
        let now = try await stored { () async throws(StateStoreError) in try await store.currentTime() }
        return active.first { $0.isAbandoned(now: now) }
    }
}
