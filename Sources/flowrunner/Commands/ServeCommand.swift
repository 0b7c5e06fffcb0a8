import ArgumentParser
import FlowModel
import FlowRunner
import Foundation
import Logging
import RunnerServer
import Scheduler
import ServiceLifecycle
import StateStore

/// `flowrunner serve [--host] [--port] [--workers N] [--token-file F] [--grace SECONDS] [--webhook URL --webhook-secret-file F]`:
/// the runner service. The Scheduler (a pool of workers over the durable
/// queue) and the HTTP API run in one `ServiceGroup`; SIGTERM or SIGINT
/// stops claiming, lets running actions finish for up to `--grace` seconds,
/// then leaves them to recovery (the next start, or another server on the
/// same state, resumes them at once).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the runner service: the HTTP API and the workers that run queued hooks.",
        discussion: "Runs queued by `deploy`, `upgrade` or `runs retry` with --detach are worked here too. Without a token only a loopback address may be bound."
    )

    @Option(name: .long, help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "The TCP port (0: any free port, printed when listening).")
    var port = 8420

    @Option(name: .long, help: "How many runs are worked at once.")
    var workers = 4

    @Option(name: .customLong("token-file"), help: ArgumentHelp("A file holding the bearer token clients must send.", valueName: "file"))
    var tokenFile: String?

    @Option(name: .long, help: ArgumentHelp("On SIGTERM/SIGINT, how long running actions may go on before they are left to recovery.", valueName: "seconds"))
    var grace: Double = 30

    @Option(name: .long, help: ArgumentHelp("How long a claimed run's lease lasts without a heartbeat (renewed every third of it): a worker stopped longer is taken over by another.", valueName: "seconds"))
    var lease: Double = 30

    @Option(name: .customLong("max-body-bytes"), help: "The largest request body accepted.")
    var maximumBodyBytes = 1 << 20

    @Option(name: .long, help: ArgumentHelp("Post each run's end to this http(s) URL (signed, retried for 24 hours).", valueName: "url"))
    var webhook: String?

    @Option(name: .customLong("webhook-secret-file"), help: ArgumentHelp("A file holding the secret --webhook posts are signed with (HMAC-SHA256, Standard Webhooks).", valueName: "file"))
    var webhookSecretFile: String?

    @Option(name: .customLong("log-level"), help: "The service log's level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var runOptions: RunOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard (1...256).contains(workers) else { throw ValidationError("--workers must be from 1 to 256") }
        guard (1_024...(1 << 30)).contains(maximumBodyBytes) else { throw ValidationError("--max-body-bytes must be from 1024 to 1073741824") }
        guard (webhook == nil) == (webhookSecretFile == nil) else {
            throw ValidationError(webhook == nil ? "--webhook-secret-file needs --webhook URL" : "--webhook needs --webhook-secret-file FILE: every post is signed")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
    }

    func run() async throws {
        MallocArenas.limitForServer()
        let token = try readToken()
        let server = RunnerServerConfiguration(host: host, port: port, token: token, maximumBodyBytes: maximumBodyBytes)
        guard token != nil || server.isLoopback else {
            throw CommandFailure.badInput("refusing to listen on \(host) without a token: anyone who reaches it could run hooks; give --token-file FILE, or bind 127.0.0.1")
        }
        let graceDuration: Duration
        do {
            graceDuration = try Seconds.duration(grace)
        } catch {
            throw CommandFailure.badInput("--grace: \(error)")
        }
        let leaseDuration: Duration
        do {
            leaseDuration = try Seconds.duration(lease)
        } catch {
            throw CommandFailure.badInput("--lease: \(error)")
        }
        guard leaseDuration >= .seconds(1) else {
            throw CommandFailure.badInput("--lease \(lease): expected at least 1 second (heartbeats come every third of it)")
        }
        let webhookConfiguration = try readWebhook()
        // A trigger's write must not wait behind a checkpoint's fsync.
        let store = try await stateOptions.open(checkpointing: .background(interval: .seconds(1)))
        let engine = try runOptions.engine(store: store, cacheDirectory: stateOptions.directory, server: true)
        var schedulerConfiguration = SchedulerConfiguration(owner: LeaseOwner.current(role: "serve"), workers: workers)
        schedulerConfiguration.gracePeriod = graceDuration
        schedulerConfiguration.leaseDuration = leaseDuration

        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "flowrunner.serve")
        schedulerConfiguration.logger = Logger(label: "flowrunner.scheduler")
        schedulerConfiguration.recordsMetrics = true
        let metrics = RunnerServer.bootstrapMetrics()
        let scheduler = Scheduler(engine: engine, configuration: schedulerConfiguration)
        let statePath = stateOptions.displayName, workerCount = workers, boundHost = host
        let http = RunnerServer(engine: engine, configuration: server, metrics: metrics).service(logger: logger) { port in
            Terminal.line("flowrunner serve: listening on http://\(boundHost.contains(":") ? "[\(boundHost)]" : boundHost):\(port) "
                + "(\(workerCount) worker\(workerCount == 1 ? "" : "s"), state \(statePath))")
        }
        // Shut down in reverse order: the scheduler drains first while the API
        // still answers, then the webhook sender tells of the runs that ended meanwhile.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: http)]
        if let webhookConfiguration {
            services.append(.init(service: WebhookSender(store: store, configuration: webhookConfiguration, logger: Logger(label: "flowrunner.webhooks"))))
        }
        services.append(.init(service: scheduler))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        do {
            try await group.run()
        } catch {
            throw CommandFailure.failed("serve stopped: \(error)")
        }
    }

    /// The completion webhook of `--webhook` and `--webhook-secret-file`, or nil.
    func readWebhook() throws -> WebhookConfiguration? {
        guard let webhook, let webhookSecretFile else { return nil }
        do {
            return try WebhookConfiguration(url: webhook, secretFile: webhookSecretFile)
        } catch {
            throw CommandFailure.badInput(error.description)
        }
    }

    /// The token of `--token-file`, trimmed; refuses an unreadable or empty file.
    func readToken() throws -> String? {
        guard let tokenFile else { return nil }
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw CommandFailure.badInput("--token-file \(tokenFile): cannot read the file")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, !token.contains(where: \.isWhitespace) else {
            throw CommandFailure.badInput("--token-file \(tokenFile): expected one token (no spaces) in the file")
        }
        guard token.utf8.count >= 16 else {
            throw CommandFailure.badInput("--token-file \(tokenFile): the token has \(token.utf8.count) characters; use at least 16")
        }
        return token
    }
}
