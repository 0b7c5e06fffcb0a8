import ArgumentParser
import Foundation

/// The `flowrunner` command line.
///
/// Exit codes (DESIGN.md): 0 ok, 1 the run or validation failed, 2 bad usage
/// or input. ArgumentParser's own usage code (64) is mapped to 2.
@main
struct FlowRunnerCommand: AsyncParsableCommand {
    /// This release (`flowrunner --version`).
    static let version = "0.6.0"

    static let configuration = CommandConfiguration(
        commandName: "flowrunner",
        abstract: "Run the lifecycle actions of application drivers, durably.",
        version: "flowrunner \(version)",
        subcommands: [DriversCommand.self, DeployCommand.self, UpgradeCommand.self, BackupCommand.self, RestoreCommand.self, DeleteCommand.self, BackupsCommand.self, DryRunCommand.self, RenderCommand.self, RunsCommand.self, DeploymentsCommand.self, ClustersCommand.self, ServeCommand.self, StateCommand.self]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exitWithError(error)
        }
    }

    private static func exitWithError(_ error: any Error) -> Never {
        if let failure = error as? CommandFailure {
            Terminal.printError(failure.message)
            Foundation.exit(failure.exitCode)
        }
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            Foundation.exit(0)
        }
        if !message.isEmpty { Terminal.printError(message) }
        Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
    }
}
