import ArgumentParser
import DriverSpec

/// `flowrunner drivers ...`: validate, load and list drivers.
struct DriversCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drivers",
        abstract: "Validate, load and list drivers.",
        subcommands: [DriversValidateCommand.self]
    )
}

extension OutputFormat: ExpressibleByArgument {}

/// `flowrunner drivers validate DIR [--output json]`.
struct DriversValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a driver directory: spec syntax, structure, references and action files.",
        discussion: "Exit status: 0 valid (warnings allowed), 1 invalid, 2 no such directory."
    )

    @Argument(help: "The driver directory (containing driver.styrmin.yml).")
    var directory: String

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let driver: LoadedDriver
        do {
            driver = try DriverLoader.load(directory: directory)
        } catch {
            throw CommandFailure.badInput(error.description)
        }
        switch output {
        case .json:
            try Terminal.printJSON(ValidationReport(directory: directory, driver: driver))
        case .text:
            for diagnostic in driver.diagnostics { print(diagnostic) }
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
