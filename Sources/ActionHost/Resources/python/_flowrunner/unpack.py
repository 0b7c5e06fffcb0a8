"""Unpacks an uploaded driver archive (`POST /v1/drivers` with a tar body,
gzip, bzip2 or xz compressed or not) into an empty directory, refusing what
a driver directory never holds. Python's tarfile reads the format; the rules
are checked here, member by member, before anything is written:

- only regular files and directories (no links, devices or FIFOs);
- relative names without `..`, NUL or a drive, each written once;
- at most MAX_MEMBERS members and MAX_BYTES bytes unpacked, judged from the
  headers before the data is decompressed (a compression bomb stops at its
  first oversized header).

Input: the archive on stdin; argv[1] the directory to unpack into.
Output (stdout): {"files": N, "bytes": N} or {"error": "message"}.
"""
import io
import json
import os
import posixpath
import sys
import tarfile

MAX_MEMBERS = 10_000
MAX_BYTES = 64 << 20


class Refused(Exception):
    pass


def safe_name(name):
    if "\0" in name or "\\" in name:
        raise Refused(f"archive member {name!r}: the name holds a NUL or a backslash")
    if name.startswith("/"):
        raise Refused(f"archive member {name!r}: absolute names are not allowed")
    normal = posixpath.normpath(name)
    parts = [part for part in normal.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise Refused(f"archive member {name!r}: names cannot leave the driver directory with ..")
    return "/".join(parts)


def unpack(data, destination):
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise Refused(f"the body is not a tar archive (gzip, bzip2, xz or uncompressed): {error}")
    files = total = members = 0
    written = set()
    with archive:
        while True:
            try:
                member = archive.next()
            except (tarfile.TarError, EOFError, OSError, ValueError) as error:
                raise Refused(f"the archive is damaged after {members} members: {error}")
            if member is None:
                break
            members += 1
            if members > MAX_MEMBERS:
                raise Refused(f"the archive has more than {MAX_MEMBERS} members")
            name = safe_name(member.name)
            if not name:
                continue
            if member.isdir():
                os.makedirs(os.path.join(destination, name), exist_ok=True)
                continue
            if not member.isreg():
                kind = "a link" if member.issym() or member.islnk() else "a device, FIFO or other special file"
                raise Refused(f"archive member {member.name!r} is {kind}: a driver upload holds regular files and directories only")
            total += member.size
            if total > MAX_BYTES:
                raise Refused(f"the archive unpacks to more than {MAX_BYTES >> 20} MiB")
            if name in written:
                raise Refused(f"archive member {member.name!r} appears twice")
            written.add(name)
            target = os.path.join(destination, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.isdir(target):
                raise Refused(f"archive member {member.name!r} is a file where the archive also has a directory")
            source = archive.extractfile(member)
            with open(target, "wb") as out:
                out.write(source.read() if source else b"")
            files += 1
    if files == 0:
        raise Refused("the archive holds no files")
    return {"files": files, "bytes": total}


def main():
    destination = sys.argv[1]
    data = sys.stdin.buffer.read()
    try:
        answer = unpack(data, destination)
    except Refused as refused:
        answer = {"error": str(refused)}
    except OSError as error:
        answer = {"error": f"the archive cannot be unpacked: {error.strerror or error}"}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
