public import FlowModel

/// Where the primitives that install or upgrade the chart get the Helm values
/// to apply: the driver's `values.j2.yml` rendered against the run's
/// GlobalContext at a given `app.version` (DESIGN.md "Helm values"). The
/// engine provides it; Primitives never renders templates itself.
public protocol HelmValuesSource: Sendable {
    /// The values for the deployment at `appVersion`: a JSON object (Helm's
    /// values mapping), or nil when the driver has no values template.
    ///
    /// - Throws: ``PrimitiveError`` with code ``PrimitiveError/Code/values``
    ///   when the template does not render, its message naming
    ///   `values.j2.yml:LINE` where the line is known.
    func values(appVersion: String) async throws(PrimitiveError) -> JSONValue?
}
