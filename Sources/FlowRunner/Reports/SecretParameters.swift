public import DriverSpec
public import FlowModel
import Foundation
public import StateStore

/// The parameters a driver declares `secret: true`, and the masking they
/// need: their values are shown as `***` in every report (text and JSON) and
/// in stored log lines; the action itself receives the real values.
public struct SecretParameters: Sendable, Hashable {
    /// What a secret value is shown as.
    public static let mask: JSONValue = "***"

    /// The secret parameters' names.
    public var names: Set<String>
    /// The deployment's config keys given with `--secret-config`.
    public var configKeys: Set<String> = []

    /// Secret names of `spec`.
    public init(spec: DriverSpecification) {
        names = Set(spec.parameters.filter(\.isSecret).map(\.name))
    }

    /// Names given directly.
    public init(names: Set<String> = [], configKeys: Set<String> = []) {
        self.names = names
        self.configKeys = configKeys
    }

    /// The secret parameters of stored driver version `versionID` (none when
    /// its spec cannot be read: reports must still show something).
    public static func load(versionID: RecordID, from store: any StateStore) async throws(StateStoreError) -> SecretParameters {
        let files = try await store.driverFiles(versionID: versionID)
        guard let file = DriverLoader.specFileNames.lazy.compactMap({ name in files.first { $0.path == name } }).first,
              let text = String(validating: file.contents, as: UTF8.self) else { return SecretParameters() }
        let (spec, _) = DriverLoader.parse(yaml: text, file: file.path)
        return spec.map(SecretParameters.init(spec:)) ?? SecretParameters()
    }

    /// A parameters object with the secret ones' values replaced by `***`.
    public func masked(parameters: JSONValue) -> JSONValue {
        Self.masking(members: names, of: parameters)
    }

    /// A config object with the secret keys' values replaced by `***`.
    public func masked(config: JSONValue) -> JSONValue {
        Self.masking(members: configKeys, of: config)
    }

    static func masking(members keys: Set<String>, of object: JSONValue) -> JSONValue {
        guard case .object(var members) = object, !keys.isEmpty else { return object }
        for key in keys where members[key] != nil { members[key] = mask }
        return .object(members)
    }

    /// ``texts(in:)`` for parameters and, for the secret config keys, `config`.
    public func texts(in parameters: JSONValue, config: JSONValue) -> [String] {
        (Self.texts(of: names, in: parameters) + Self.texts(of: configKeys, in: config)).sorted { $0.count > $1.count }
    }

    /// The texts to hide in free text (log lines) for these parameter
    /// values: each secret value of at least 4 characters, longest first
    /// (shorter ones would mask ordinary words).
    public func texts(in parameters: JSONValue) -> [String] {
        Self.texts(of: names, in: parameters).sorted { $0.count > $1.count }
    }

    /// The values of `keys` in `object` as text, those of 4 characters or more.
    static func texts(of keys: Set<String>, in object: JSONValue) -> [String] {
        keys.compactMap { key -> String? in
            guard let value = object[key], !value.isNull else { return nil }
            let text = value.stringValue ?? value.jsonText
            return text.count >= 4 ? text : nil
        }
    }

    /// `text` with every occurrence of `secrets` replaced by `***`.
    public static func masking(_ text: String, _ secrets: [String]) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return result
    }
}
