import FlowModel

/// Which methods each path of the API takes, read from ``OpenAPIDocument``
/// (so the document and the 405 answers cannot disagree): a request for a
/// known path with another method gets 405 with an `Allow` header (RFC 9110
/// §15.5.6) instead of 404.
enum AllowedMethods {
    /// Path templates split into segments (`{name}` matches any one), with their methods.
    static let table: [(segments: [Substring], methods: [String])] = {
        guard let paths = (try? JSONValue(jsonBytes: Array(OpenAPIDocument.text.utf8)))?["paths"]?.objectValue else { return [] }
        return paths.map { path, item in
            let methods = (item.objectValue ?? [:]).keys.filter { ["get", "post", "put", "patch", "delete"].contains($0) }
            return (path.split(separator: "/"), methods.map { $0.uppercased() }.sorted())
        }
    }()

    /// The methods `path` takes, or nil when no route has that path.
    static func methods(for path: String) -> [String]? {
        let segments = path.split(separator: "/")
        return table.first { template in
            template.segments.count == segments.count
                && zip(template.segments, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }?.methods
    }
}
