import ArgumentParser
import DriverSpec
import FlowModel
import FlowRunner
import Foundation
import StateStore

/// `flowrunner drivers ...`: validate, load and list drivers.
struct DriversCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drivers",
        abstract: "Validate, load and list drivers.",
        subcommands: [DriversValidateCommand.self, DriversLoadCommand.self, DriversListCommand.self]
    )
}

extension OutputFormat: ExpressibleByArgument {}

/// `flowrunner drivers validate DIR [--output json]`.
struct DriversValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a driver directory: spec syntax, structure, references and action files.",
        discussion: "Exit status: 0 valid (warnings allowed), 1 invalid, 2 no such directory."
    )

    @Argument(help: "The driver directory (containing driver.styrmin.yml).")
    var directory: String

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(name: .long, help: ArgumentHelp("The Python interpreter that checks the driver's Python files.", valueName: "path"))
    var python: String?

    func run() async throws {
        let driver = try await DriverLoader.loadForCommand(directory, python: python)
        switch output {
        case .json:
            try Terminal.printJSON(ValidationReport(directory: directory, driver: driver))
        case .text:
            for diagnostic in driver.diagnostics { print(TerminalText.escaped("\(diagnostic)")) }
            let errors = driver.diagnostics.errors.count, warnings = driver.diagnostics.warnings.count
            let name = driver.specification.map { "\($0.name) (driver version \($0.version))" } ?? directory
            let counts = "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"
            print("\(name): \(driver.isValid ? "valid" : "invalid"), \(counts)")
        }
        if !driver.isValid { throw ExitCode(CommandFailure.failedCode) }
    }
}

/// The JSON shape of `drivers validate --output json`.
struct ValidationReport: Encodable {
    struct Driver: Encodable {
        var name: String
        var version: String
        var digest: String
    }

    struct Finding: Encodable {
        var file: String
        var line: Int
        var column: Int
        var message: String
    }

    var path: String
    var valid: Bool
    var driver: Driver?
    var errors: [Finding]
    var warnings: [Finding]

    init(directory: String, driver loaded: LoadedDriver) {
        path = directory
        valid = loaded.isValid
        driver = loaded.specification.map { Driver(name: $0.name, version: $0.version, digest: loaded.snapshot.digest) }
        func finding(_ diagnostic: Diagnostic) -> Finding {
            Finding(file: diagnostic.location.file, line: diagnostic.location.line, column: diagnostic.location.column, message: diagnostic.message)
        }
        errors = loaded.diagnostics.errors.map(finding)
        warnings = loaded.diagnostics.warnings.map(finding)
    }
}

/// `flowrunner drivers load DIR`: validate and store a driver version.
struct DriversLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Validate a driver directory and store it as a new driver version.",
        discussion: "Loading identical content again is a no-op that prints the same version and digest."
    )

    @Argument(help: "The driver directory (containing driver.styrmin.yml).")
    var directory: String

    @OptionGroup var stateOptions: StateOptions

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(name: .long, help: ArgumentHelp("The Python interpreter that checks the driver's Python files.", valueName: "path"))
    var python: String?

    func run() async throws {
        let driver = try await DriverLoader.loadForCommand(directory, python: python)
        if !driver.isValid {
            for diagnostic in driver.diagnostics { print(TerminalText.escaped("\(diagnostic)")) }
        }
        let store = try await stateOptions.open()
        let stored: DriverCatalog.Stored
        do {
            stored = try await DriverCatalog(store: store).store(driver, directory: directory)
        } catch {
            throw error.commandFailure
        }
        for warning in stored.warnings { Terminal.printError("warning: \(warning)") }
        let record = stored.record
        switch output {
        case .json:
            print(DriverCatalog.json(record, created: stored.created).prettyText)
        case .text:
            let note = stored.created ? "loaded" : "already loaded, unchanged"
            print("\(record.driver): spec version \(record.specVersion), driver version \(record.number), digest \(record.digest) (\(note))")
        }
    }
}

/// `flowrunner drivers list`: the stored driver versions.
struct DriversListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the stored driver versions.")

    @OptionGroup var stateOptions: StateOptions

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    func run() async throws {
        let store = try await stateOptions.openForReading()
        let versions: [DriverVersionRecord]
        do {
            versions = try await DriverCatalog(store: store).versions()
        } catch {
            throw error.commandFailure
        }
        switch output {
        case .json:
            print(JSONValue.array(versions.map { DriverCatalog.json($0) }).prettyText)
        case .text:
            guard !versions.isEmpty else {
                print("No drivers loaded. Load one with: flowrunner drivers load DIR")
                return
            }
            Table.print(["DRIVER", "VERSION", "SPEC VERSION", "DIGEST", "LOADED"], versions.map { record in
                [record.driver, String(record.number), record.specVersion, String(record.digest.prefix(12)), TimeFormat.table(record.loadedAt)]
            })
        }
    }
}

