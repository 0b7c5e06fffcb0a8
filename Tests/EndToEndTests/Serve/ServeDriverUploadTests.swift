import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `POST /v1/drivers` with the driver directory as a tar archive: stored as
/// a driver version like a path, hostile archives refused with the reason.
@Suite("Runner service: driver upload as a tar archive")
struct ServeDriverUploadTests {
    @Test("a .tar.gz of the driver (flat or in one top-level directory) is stored once and runs hooks")
    func uploadAndRun() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        let flat = workspace.directory + "/flat.tgz", nested = workspace.directory + "/nested.tar.gz"
        try await shell(["/usr/bin/env", "tar", "czf", flat, "-C", testbed, "."])
        try await shell(["/usr/bin/env", "tar", "czf", nested, "-C", URL(fileURLWithPath: testbed).deletingLastPathComponent().path, "testbed"])

        let first = try await serve.upload(try bytes(flat))
        #expect(first.status == 201, "\(first.text)")
        #expect(first.object["name"] as? String == "testbed" && first.object["version"] as? Int == 1)
        let again = try await serve.upload(try bytes(nested), contentType: "application/x-gzip", path: "/v1/drivers/archive")
        #expect(again.status == 200, "the same content in another layout is the same driver version: \(again.text)")
        #expect(again.object["created"] as? Bool == false && again.object["digest"] as? String == first.object["digest"] as? String)

        let created = try await serve.request(.POST, "/v1/deployments", json: ["name": "shop", "driver": "testbed", "app_version": "1.0.0"])
        let setup = try #require(created.runID)
        #expect(try await serve.waitForRun(setup)["status"] as? String == "succeeded")
        let upgrade = try #require(try await serve.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "1.1.0"]).runID)
        #expect(try await serve.waitForRun(upgrade)["status"] as? String == "succeeded", "the uploaded action files ran")
    }

    @Test("hostile or broken archives are refused with the reason, and nothing is stored")
    func refusals() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        let maker = workspace.directory + "/make_archives.py"
        try Self.archiveMaker.write(toFile: maker, atomically: true, encoding: .utf8)
        let python = ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_PYTHON"] ?? "python3"
        try await shell(["/usr/bin/env", python, maker, testbed, workspace.directory])
        let cases: [(String, Int, String)] = [
            ("symlink", 400, "is a link"),
            ("dotdot", 400, "cannot leave the driver directory"),
            ("absolute", 400, "absolute names are not allowed"),
            ("bomb", 400, "unpacks to more than 64 MiB"),
            ("device", 400, "a device, FIFO or other special file"),
            ("namebomb", 400, "name or pax header (at most 1 MiB)"),
            ("truncated", 400, "damaged"),
            ("empty", 400, "holds no files"),
            ("invalid", 422, "driver.styrmin.yml"),
        ]
        for (name, status, message) in cases {
            let answer = try await serve.upload(try bytes(workspace.directory + "/\(name).tgz"))
            #expect(answer.status == status, "\(name): \(answer.text)")
            #expect((answer.error["message"] as? String)?.contains(message) == true, "\(name): \(answer.text)")
            #expect(!answer.text.contains(NSTemporaryDirectory()) && !answer.text.contains("flowrunner-upload"), "\(name): no server path in \(answer.text)")
            #expect(!answer.text.contains("Traceback") && !answer.text.contains(".py\""), "\(name): no trace in \(answer.text)")
        }
        let garbage = try await serve.upload(Array("not an archive at all".utf8))
        #expect(garbage.status == 400 && garbage.text.contains("not a tar archive"), "\(garbage.text)")
        #expect(garbage.error["field"] as? String == "body")
        let text = try await serve.upload(Array("x".utf8), contentType: "text/plain")
        #expect(text.status == 415 && text.text.contains("application/gzip"), "\(text.text)")
        let json = try await serve.upload(Array("{}".utf8), contentType: "application/json", path: "/v1/drivers/archive")
        #expect(json.status == 415 && json.text.contains("tar archive"), "\(json.text)")
        let drivers = try await serve.request(.GET, "/v1/drivers").object["drivers"] as? [Any]
        #expect(drivers?.isEmpty == true, "nothing stored: \(drivers ?? [])")
    }

    /// Writes the hostile archives next to the test: each a .tgz that the
    /// server must refuse for its own reason.
    static let archiveMaker = #"""
    import io, os, sys, tarfile
    driver, out = sys.argv[1], sys.argv[2]

    class Zeros(io.RawIOBase):
        def __init__(self, size):
            self.left = size
        def readinto(self, buffer):
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    def member(tar, name, kind=tarfile.REGTYPE, content=b"", size=None, link=""):
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, link
        info.size = len(content) if size is None else size
        if kind == tarfile.CHRTYPE:
            info.devmajor, info.devminor = 1, 3
        tar.addfile(info, Zeros(size) if size is not None else io.BytesIO(content) if kind == tarfile.REGTYPE else None)

    cases = {
        "symlink": [("passwd", {"kind": tarfile.SYMTYPE, "link": "/etc/passwd"})],
        "dotdot": [("../escaped.py", {"content": b"x = 1\n"})],
        "absolute": [("/srv/absolute.py", {"content": b"x = 1\n"})],
        "bomb": [("zeros.bin", {"size": 100 << 20})],
        "device": [("null", {"kind": tarfile.CHRTYPE})],
        "namebomb": [("zeros", {"kind": tarfile.GNUTYPE_LONGNAME, "size": 100 << 20})],
    }
    for name, members in cases.items():
        with tarfile.open(os.path.join(out, name + ".tgz"), "w:gz") as tar:
            tar.add(driver, arcname=".")
            for member_name, options in members:
                member(tar, member_name, **options)
    with open(os.path.join(out, "symlink.tgz"), "rb") as whole, open(os.path.join(out, "truncated.tgz"), "wb") as cut:
        cut.write(whole.read()[:1500])
    with tarfile.open(os.path.join(out, "empty.tgz"), "w:gz") as tar:
        member(tar, "only-a-directory", kind=tarfile.DIRTYPE)
    with tarfile.open(os.path.join(out, "invalid.tgz"), "w:gz") as tar:
        member(tar, "driver.styrmin.yml", content=b"apiVersion: styrmin.io/v1\nkind: ApplicationDriver\nspec: [\n")
    """#
}

extension ServeProcess {
    /// `POST /v1/drivers` with `archive` as the body.
    func upload(_ archive: [UInt8], contentType: String = "application/gzip", path: String = "/v1/drivers") async throws -> APIResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: archive))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let text = String(buffer: try await response.body.collect(upTo: 64 << 20))
        return APIResponse(status: Int(response.status.code), headers: response.headers, text: text)
    }
}

/// The bytes of a file.
func bytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}
