import FlowModel
import Primitives

/// The Helm values of one run attempt (DESIGN.md "Helm values"): the
/// driver's `values.j2.yml` rendered against the run's frozen GlobalContext
/// at the run's target version, or at another version an action upgrades to.
/// Each version is rendered once per attempt.
actor RunValues: HelmValuesSource {
    let template: String
    let context: JSONValue
    let renderer: HelmValues.Renderer
    private var rendered: [String: Result<JSONValue, PrimitiveError>] = [:]

    init(template: String, context: JSONValue, renderer: HelmValues.Renderer) {
        self.template = template
        self.context = context
        self.renderer = renderer
    }

    /// The values at `appVersion`.
    ///
    /// - Throws: ``PrimitiveError`` (code `values`) naming `values.j2.yml:LINE`
    ///   and the reason, or saying why the renderer could not run.
    func values(appVersion: String) async throws(PrimitiveError) -> JSONValue? {
        if let known = rendered[appVersion] { return try known.get() }
        let outcome: Result<JSONValue, PrimitiveError>
        do {
            switch try await renderer.render(template, context: HelmValues.context(context, atVersion: appVersion)) {
            case .success(let values): outcome = .success(values.values)
            case .failure(let failure):
                let diagnostic = failure.diagnostic
                outcome = .failure(.values("the Helm values for \(appVersion) do not render: \(diagnostic.location): \(diagnostic.message)"))
            }
        } catch {
            outcome = .failure(.values(error.message))
        }
        rendered[appVersion] = outcome
        return try outcome.get()
    }
}
