@testable import DriverSpec
import Foundation
import Testing

@Suite("Driver snapshots and digests")
struct SnapshotTests {
    @Test("SHA-256 matches the FIPS 180-4 test vectors",
          arguments: [
              ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
              ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
              ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
          ])
    func vectors(_ input: String, _ digest: String) {
        #expect(ContentDigest.sha256(Array(input.utf8)) == digest)
    }

    @Test("a snapshot's digest covers each path, its length and its bytes, whatever order files come in")
    func snapshotDigestFraming() {
        let one = DriverSnapshot(files: [DriverFile(path: "a", contents: Array("bc".utf8)), DriverFile(path: "d", contents: [])])
        let same = DriverSnapshot(files: [DriverFile(path: "d", contents: []), DriverFile(path: "a", contents: Array("bc".utf8))])
        let moved = DriverSnapshot(files: [DriverFile(path: "ab", contents: Array("c".utf8)), DriverFile(path: "d", contents: [])])
        #expect(one.digest == same.digest)
        #expect(one.digest != moved.digest)
        // Digests of stored driver versions must not change across releases:
        // path, NUL, 64-bit big-endian length, bytes; files by path.
        #expect(one.digest == ContentDigest.sha256(Array("a".utf8) + [0, 0, 0, 0, 0, 0, 0, 0, 2] + Array("bc".utf8) + Array("d".utf8) + [0, 0, 0, 0, 0, 0, 0, 0, 0]))
    }

    @Test("same files give the same digest anywhere; caches are ignored")
    func stableDigest() throws {
        let first = TemporaryDirectory(), second = TemporaryDirectory()
        for directory in [first, second] {
            try directory.write("driver.styrmin.yml", "kind: x\n")
            try directory.write("lib/actions.py", "def a(): pass\n")
        }
        try second.write("__pycache__/actions.cpython-311.pyc", "junk")
        try second.write("lib/__pycache__/x.pyc", "junk")
        let a = try DriverSnapshot(directory: first.path), b = try DriverSnapshot(directory: second.path)
        #expect(a.digest == b.digest)
        #expect(a.files.map(\.path) == ["driver.styrmin.yml", "lib/actions.py"])
        #expect(a.digest.count == 64)

        try second.write("lib/actions.py", "def a(): return 1\n")
        #expect(try DriverSnapshot(directory: second.path).digest != a.digest)
    }

    @Test("moving bytes between path and content changes the digest")
    func framing() {
        let a = DriverSnapshot(files: [DriverFile(path: "ab", contents: Array("c".utf8))])
        let b = DriverSnapshot(files: [DriverFile(path: "a", contents: Array("bc".utf8))])
        #expect(a.digest != b.digest)
    }

    @Test("a snapshot written out reads back identical")
    func roundTrip() throws {
        let source = try DriverSnapshot(directory: FixturePaths.examples + "/my-app")
        let target = TemporaryDirectory()
        try source.write(to: target.path)
        #expect(try DriverSnapshot(directory: target.path) == source)
    }
}

@Suite("Finding top-level Python functions without importing")
struct PythonModuleScannerTests {
    @Test func definitions() {
        let source = """
        import os, sys as system
        from prefect import flow, get_run_logger as logger
        from .helpers import (
            alpha,
            beta as gamma,
        )
        CONSTANT = 1
        typed: int = 2
        a = b = 3
        x == 4

        @flow(retries=2)
        async def upgrade(context: "GlobalContext",
                          target_version: str = "def fake(): pass"):
            def nested():
                pass

        def setup(
            context,
        ): pass

        class Helper:
            def method(self): pass

        text = '''
        def in_string():
        '''
        # def in_comment():
        value = call(
        def_not_really=1)
        """
        let names = PythonModuleScanner.topLevelNames(in: source)
        for name in ["os", "system", "flow", "logger", "alpha", "gamma", "CONSTANT", "typed", "a", "b",
                     "upgrade", "setup", "Helper", "text", "value"] {
            #expect(names[name] != nil, "\(name) should be found")
        }
        for name in ["x", "nested", "method", "in_string", "in_comment", "def_not_really", "beta", "sys", "target_version"] {
            #expect(names[name] == nil, "\(name) should not be found")
        }
        #expect(names["upgrade"] == 13)
        #expect(names["setup"] == 18)
    }
}
