public import FlowModel
import Yams

/// Plain YAML files other than driver specs (simulation fixtures, say),
/// read into ``JSONValue``s, with syntax errors positioned.
public enum YAMLData {
    /// Parses `text`; an empty document is `.null`.
    /// - Throws: a ``Diagnostic`` naming `file`, line and column of a syntax error.
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
        return reader.value(root, "(document)")
    }
}

extension Diagnostic: Error {}
