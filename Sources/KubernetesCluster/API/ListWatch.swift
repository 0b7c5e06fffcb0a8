public import FlowModel
import Foundation
import NIOCore

/// Waits for a state of some objects by list and watch, as client-go's
/// informers do: one list, then watches from its `resourceVersion`, each
/// with `timeoutSeconds`; a watch cut short is resumed from the last
/// version seen; `410 Gone` (an expired version) lists again, never
/// retrying the expired one; a dropped connection or a `5xx` is retried
/// after a short pause, until the deadline.
public struct ListWatch: Sendable {
    /// What the objects seen so far come to.
    public enum Verdict: Sendable, Equatable {
        /// The wait is over.
        case done
        /// Still waiting; the text says for what, in the words a timeout should use.
        case waiting(String)
        /// It will not come (a `Stalled` release, a failed Job): the reason.
        case failed(String)
    }

    /// The objects seen, by name, and the version to watch from (nil: list again).
    struct Cache {
        var objects: [String: JSONValue] = [:]
        var version: String?
    }

    let client: KubernetesClient
    let resource: Resource
    let namespace: String
    var labelSelector: String?
    var fieldSelector: String?
    /// The longest single watch (a server may end it sooner).
    var watchSeconds = 60

    public init(client: KubernetesClient, resource: Resource, namespace: String, labelSelector: String? = nil, fieldSelector: String? = nil) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
    }

    /// Waits until `judge` says the objects (by name) are `done`.
    ///
    /// - Returns: the objects then.
    /// - Throws: ``KubernetesError`` `timeout` at `deadline`, saying what
    ///   was waited for (`judge`'s last `waiting` text); `status` with the
    ///   reason `judge` gave for `failed`; any error that is not transient.
    public func wait(
        until deadline: ContinuousClock.Instant, _ judge: @Sendable ([String: JSONValue]) -> Verdict
    ) async throws(KubernetesError) -> [String: JSONValue] {
        var cache = Cache()
        var waitingFor = "\(resource) in namespace \(namespace)"
        var pause: Duration = .milliseconds(100)
        repeat {
            if Task.isCancelled { throw KubernetesError(.timeout, "cancelled while waiting for \(waitingFor)") }
            do throws(KubernetesError) {
                if cache.version == nil { cache = try await list() }
                switch judge(cache.objects) {
                case .done: return cache.objects
                case .failed(let reason): throw KubernetesError(.status, reason)
                case .waiting(let what): waitingFor = what
                }
                let left = deadline - ContinuousClock.now
                guard left > .zero else { break }
                let seconds = max(1, min(watchSeconds, Int(left.components.seconds) + 1))
                switch try await watch(seconds: seconds, cache: &cache, deadline: deadline, judge: judge) {
                case .done: return cache.objects
                case .failed(let reason): throw KubernetesError(.status, reason)
                case .waiting(let what): waitingFor = what
                }
                pause = .milliseconds(100)
            } catch {
                if error.httpStatus == 410 || error.reason == "Expired" || error.reason == "Gone" {
                    cache.version = nil  // list again: that version is gone
                    continue
                }
                guard Self.isTransient(error) else { throw error }
                // A throttled request waits as long as the server asks (429's Retry-After).
                let wait = error.retryAfter.map { Duration.milliseconds(Int(min($0, 30) * 1000)) } ?? pause
                try? await Task.sleep(for: min(wait, max(deadline - ContinuousClock.now, .zero)))
                pause = min(pause * 2, .seconds(2))
            }
        } while ContinuousClock.now < deadline
        throw KubernetesError(.timeout, "timed out waiting for \(waitingFor)")
    }

    /// A dropped connection, a server error or a throttle: worth another try.
    static func isTransient(_ error: KubernetesError) -> Bool {
        error.code == .transport || (error.code == .status && [429, 500, 502, 503, 504].contains(error.httpStatus ?? 0))
    }

    var query: [(String, String)] {
        var items: [(String, String)] = []
        if let labelSelector { items.append(("labelSelector", labelSelector)) }
        if let fieldSelector { items.append(("fieldSelector", fieldSelector)) }
        return items
    }

    func list() async throws(KubernetesError) -> Cache {
        let answer = try await client.send(.GET, resource.path(namespace: namespace), query: query).body
        var cache = Cache()
        for item in answer["items"]?.arrayValue ?? [] {
            if let name = item["metadata"]?["name"]?.stringValue { cache.objects[name] = item }
        }
        cache.version = answer["metadata"]?["resourceVersion"]?.stringValue ?? "0"
        return cache
    }

    /// One watch from `cache.version`: applies its events and judges after
    /// each; `waiting` when it ended (its `timeoutSeconds`, or cut short).
    func watch(
        seconds: Int, cache: inout Cache, deadline: ContinuousClock.Instant, judge: @Sendable ([String: JSONValue]) -> Verdict
    ) async throws(KubernetesError) -> Verdict {
        let parameters = query + [("watch", "1"), ("resourceVersion", cache.version ?? "0"), ("timeoutSeconds", String(seconds)),
                                  ("allowWatchBookmarks", "true")]
        let body = try await client.stream(resource.path(namespace: namespace), query: parameters, timeout: .seconds(seconds + 15))
        var verdict = judge(cache.objects)
        var lines = LineSplitter()
        do {
            for try await chunk in body {
                for line in lines.push(Array(buffer: chunk)) {
                    guard let event = try? JSONValue(jsonBytes: line), let type = event["type"]?.stringValue else {
                        throw KubernetesError(.protocolViolation, "cluster \(client.cluster): a watch of \(resource) sent a line that is not an event")
                    }
                    let object = event["object"] ?? .null
                    if type == "ERROR" {
                        let code: Int? = if case .int(let number)? = object["code"] { number } else { nil }
                        throw KubernetesError(.status, "cluster \(client.cluster): watch of \(resource): \(object["message"]?.stringValue ?? "error")",
                                              httpStatus: code, reason: object["reason"]?.stringValue)
                    }
                    if let version = object["metadata"]?["resourceVersion"]?.stringValue { cache.version = version }
                    guard let name = object["metadata"]?["name"]?.stringValue, type != "BOOKMARK" else { continue }
                    if type == "DELETED" { cache.objects[name] = nil } else { cache.objects[name] = object }
                    verdict = judge(cache.objects)
                    if case .waiting = verdict, ContinuousClock.now < deadline { continue }
                    return verdict
                }
            }
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw KubernetesError(.transport, "cluster \(client.cluster): the watch of \(resource) was cut: \(KubernetesClient.describe(error))")
        }
        return verdict
    }
}

/// Splits a byte stream into lines (newline-delimited JSON).
struct LineSplitter {
    private var pending: [UInt8] = []

    /// The whole lines `bytes` completes; the rest waits for more.
    mutating func push(_ bytes: [UInt8]) -> [[UInt8]] {
        pending.append(contentsOf: bytes)
        var lines: [[UInt8]] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            if !line.isEmpty { lines.append(line) }
        }
        return lines
    }
}
