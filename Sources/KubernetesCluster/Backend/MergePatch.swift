import FlowModel

/// JSON merge patches (RFC 7386), as the Kubernetes API applies them to
/// custom resources such as a HelmRelease.
enum MergePatch {
    /// The patch that turns `old` into `new`: members `new` lacks are set to
    /// null (removed), objects are patched member by member, anything else
    /// (arrays included) is replaced when it differs.
    static func diff(from old: JSONValue, to new: JSONValue) -> JSONValue {
        guard case .object(let before) = old, case .object(let after) = new else { return new }
        var patch: [String: JSONValue] = [:]
        for key in before.keys where after[key] == nil { patch[key] = .null }
        for (key, value) in after {
            guard let previous = before[key] else {
                patch[key] = value
                continue
            }
            if case .object = previous, case .object = value {
                let inner = diff(from: previous, to: value)
                if inner != .object([:]) { patch[key] = inner }
            } else if previous != value {
                patch[key] = value
            }
        }
        return .object(patch)
    }

    /// `value` without object members that are null, at any depth (what the
    /// API server keeps of a custom resource's free-form field).
    static func droppingNulls(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.compactMapValues { $0 == .null ? nil : droppingNulls($0) })
        case .array(let items):
            return .array(items.map(droppingNulls))
        default:
            return value
        }
    }
}
