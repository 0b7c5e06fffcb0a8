/// A failure reaching or using a Kubernetes API server.
public struct KubernetesError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A kubeconfig or service account that cannot be used.
        public static let configuration = Code("configuration")
        /// The server could not be reached, or the TLS handshake failed.
        public static let transport = Code("transport")
        /// The server answered with an error `Status` (``KubernetesError/status``).
        public static let status = Code("status")
        /// An answer that is not what the API reference says it is.
        public static let protocolViolation = Code("protocolViolation")
        /// A wait ran past its deadline.
        public static let timeout = Code("timeout")
        public var description: String { name }
    }

    public var code: Code
    public var message: String
    /// The HTTP status of a `status` error (404, 409, 410, 429, ...).
    public var httpStatus: Int?
    /// The `Status` object's `reason` (`NotFound`, `Conflict`, `Expired`, `TooManyRequests`, ...).
    public var reason: String?
    /// Seconds to wait before a retry (`Retry-After`, or the Status's `details.retryAfterSeconds`).
    public var retryAfter: Double?

    public init(_ code: Code, _ message: String, httpStatus: Int? = nil, reason: String? = nil, retryAfter: Double? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.reason = reason
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}
