public import FlowModel
import Yams

/// Plain YAML files other than driver specs (simulation fixtures, say),
/// read into ``JSONValue``s, with syntax errors positioned.
public enum YAMLData {
    /// Parses `text`; an empty document is `.null`.
    /// - Throws: a ``Diagnostic`` naming `file`, line and column of a syntax
    ///   error, a non-text key, or aliases expanding past ``YAMLReader/maximumValues``.
    public static func load(text: String, file: String) throws(Diagnostic) -> JSONValue {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw DriverLoader.syntaxDiagnostic(error, file: file)
        } catch {
            throw Diagnostic(.error, at: SourceLocation(file: file), "YAML syntax error: \(error)")
        }
        guard let root else { return .null }
        var reader = YAMLReader(file: file)
        let value = reader.value(root, "(document)")
        if let problem = reader.diagnostics.first(where: { $0.severity == .error }) { throw problem }
        return value
    }
}

extension Diagnostic: Error {}
