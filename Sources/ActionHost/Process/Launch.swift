import CSandboxSpawn

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The user and file system a confined child gets (see ``ActionIsolation``).
struct Confinement: Sendable, Hashable {
    var user: ActionUser
    var plan: MountPlan
}

/// One fork-and-exec through `fr_spawn` (CSandboxSpawn): every C string and
/// descriptor the child needs is prepared here, before the fork.
struct Launch {
    var executable: String
    var argv: [String]
    var envp: [String]
    var workingDirectory: String?
    var stdio: (Int32, Int32, Int32)
    var confinement: Confinement?
    /// Added to the child's nice value.
    var niceness: Int32 = 0

    enum Result {
        case started
        case failure(String)
    }

    /// Starts the child; on success stores its pid.
    func start(pid: inout pid_t) -> Result {
        var strings: [UnsafeMutablePointer<CChar>?] = []
        defer { for pointer in strings { free(pointer) } }
        func keep(_ text: String) -> UnsafeMutablePointer<CChar>? {
            let pointer = strdup(text)
            strings.append(pointer)
            return pointer
        }
        var steps: [fr_mount_step] = []
        for step in confinement?.plan.steps ?? [] {
            switch step {
            case .cover(let path):
                steps.append(fr_mount_step(kind: FR_MOUNT_TMPFS, target: keep(path), source: nil))
            case .makeDirectory(let path):
                steps.append(fr_mount_step(kind: FR_MOUNT_MKDIR, target: keep(path), source: nil))
            case .show(let path):
                let pointer = keep(path)
                steps.append(fr_mount_step(kind: FR_MOUNT_BIND_READ_ONLY, target: pointer, source: pointer))
            case .maskFile(let path):
                steps.append(fr_mount_step(kind: FR_MOUNT_MASK_FILE, target: keep(path), source: nil))
            }
        }
        let argvPointers = argv.map(keep) + [nil]
        let envpPointers = envp.map(keep) + [nil]
        let executablePointer = keep(executable)
        let directoryPointer = workingDirectory.flatMap(keep)
        var message = [CChar](repeating: 0, count: 1024)
        var scratch = [Int32](repeating: -1, count: steps.count)
        var request = fr_spawn_request()
        request.executable = UnsafePointer(executablePointer)
        request.working_directory = UnsafePointer(directoryPointer)
        request.stdin_fd = stdio.0
        request.stdout_fd = stdio.1
        request.stderr_fd = stdio.2
        request.niceness = niceness
        if let confinement {
            request.isolate = 1
            request.uid = confinement.user.uid
            request.gid = confinement.user.gid
            request.step_count = steps.count
        }
        let status = argvPointers.withUnsafeBufferPointer { argvBuffer in
            envpPointers.withUnsafeBufferPointer { envpBuffer in
                steps.withUnsafeBufferPointer { stepBuffer in
                    scratch.withUnsafeMutableBufferPointer { scratchBuffer in
                        request.argv = argvBuffer.baseAddress
                        request.envp = envpBuffer.baseAddress
                        request.steps = stepBuffer.baseAddress
                        request.scratch = scratchBuffer.baseAddress
                        return fr_spawn(&request, &pid, &message, message.count)
                    }
                }
            }
        }
        guard status == 0 else {
            return .failure(String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return .started
    }
}
