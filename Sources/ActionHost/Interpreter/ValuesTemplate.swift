public import FlowModel
import Foundation

/// Renders a driver's Helm values template (`values.j2.yml`, the guide's
/// "Creating a Driver" Step 5) with Jinja2, the engine Styrmin drivers are
/// written for: the bundled `_flowrunner/render.py` on the real interpreter,
/// with the guide's filters (`component_env_vars`, `component_command`,
/// `component_args`; `tojson` is Jinja2's) and undefined names as errors.
public enum ValuesTemplate {
    /// What rendering came to.
    public enum Outcome: Sendable, Hashable {
        /// The rendered text.
        case rendered(String)
        /// The template failed: `message` says how, `line` (1-based) where
        /// in the template, when Jinja2 knows; `missingJinja2` when the
        /// interpreter has no `jinja2` package (the message names the install command).
        case failed(message: String, line: Int?, missingJinja2: Bool)
    }

    /// Renders `template` (named `file` in errors) with `context`'s members as
    /// its names (the run's GlobalContext: `app`, `instance`, `components`,
    /// `services`, ...). `cacheDirectory`, an engine-owned directory, keeps
    /// compiled templates by checksum (compiling costs far more than rendering).
    ///
    /// - Throws: ``ActionHostError/Code/spawnFailed`` when the interpreter
    ///   cannot run or answers with something other than the renderer's JSON.
    public static func render(
        _ template: String, file: String, context: JSONValue, interpreter: PythonInterpreter, pythonDirectory: String,
        cacheDirectory: String? = nil
    ) async throws(ActionHostError) -> Outcome {
        let request = Self.request(template, file: file, context: context, cacheDirectory: cacheDirectory)
        let output = try await PythonHelper.run("render", input: Data(request.jsonBytes), interpreter: interpreter,
                                                pythonDirectory: pythonDirectory, purpose: "render \(file)")
        guard output.status == 0, let answer = try? JSONValue(jsonBytes: Array(output.stdout)) else {
            if output.killedBySignal {
                // The renderer's own limits (render.py): the template's fault, not the engine's.
                return .failed(message: "rendering was stopped after using its limits (5 s of processor time, 1 GiB of memory): "
                                   + "a loop or a value that grows without end?", line: nil, missingJinja2: false)
            }
            // Its stderr (a traceback with the server's paths) stays out of the message.
            throw ActionHostError(.spawnFailed, "the renderer of \(file) failed (status \(output.status)) without an answer")
        }
        return outcome(of: answer)
    }

    /// The renderer's request (render.py's input).
    static func request(_ template: String, file: String, context: JSONValue, cacheDirectory: String?) -> JSONValue {
        var members: [String: JSONValue] = ["template": .string(template), "file": .string(file), "context": context]
        if let cacheDirectory { members["cache"] = .string(cacheDirectory) }
        return .object(members)
    }

    /// What the renderer's answer says.
    static func outcome(of answer: JSONValue) -> Outcome {
        if let text = answer["rendered"]?.stringValue { return .rendered(text) }
        let line: Int? = if case .int(let number)? = answer["line"] { number } else { nil }
        return .failed(message: answer["error"]?.stringValue ?? "the renderer gave no reason",
                       line: line, missingJinja2: answer["missing_jinja2"] == .bool(true))
    }
}
