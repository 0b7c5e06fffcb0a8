"""Unpacks an uploaded driver archive (`POST /v1/drivers` with a tar body,
gzip, bzip2 or xz compressed or not) into an empty directory, refusing what
a driver directory never holds. Python's tarfile reads the format; the rules
are checked here, member by member, before anything is written:

- only regular files and directories (no links, devices or FIFOs);
- relative names without `..`, NUL or a drive, each written once;
- at most MAX_MEMBERS members and MAX_BYTES bytes of files, judged from
  the headers before a file's data is read; and whatever the headers say,
  the decompressed stream is cut off past MAX_STREAM bytes, and a long-name
  or pax header (which tarfile reads whole) over 1 MiB is refused before it
  is read, so a bomb hidden in either stops early;
- the compressed stream read to its end, so its checksum is verified.

Input: the archive on stdin; argv[1] the directory to unpack into.
Output (stdout): {"files": N, "bytes": N} or {"error": "message"}.
"""
import bz2
import gzip
import io
import json
import lzma
import os
import posixpath
import sys
import tarfile
import zlib

MAX_MEMBERS = 10_000
MAX_BYTES = 64 << 20
# Files plus every header (512 bytes per member, long names, pax records).
MAX_STREAM = MAX_BYTES + (16 << 20)


class Refused(Exception):
    pass


class Limited(io.RawIOBase):
    """The decompressed archive, refusing to yield more than MAX_STREAM bytes."""

    def __init__(self, stream):
        self.stream, self.total = stream, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.stream.read(min(len(buffer), 1 << 20))
        self.total += len(data)
        if self.total > MAX_STREAM:
            raise Refused(f"the archive unpacks to more than {MAX_STREAM >> 20} MiB")
        buffer[:len(data)] = data
        return len(data)


class GuardedTarInfo(tarfile.TarInfo):
    """Refuses a long-name, long-link or pax header over 1 MiB before
    tarfile reads it whole into memory (real ones are a few hundred bytes)."""

    def _proc_member(self, tarfile_):
        if self.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE) \
                and self.size > (1 << 20):
            raise Refused(f"the archive has a {self.size}-byte name or pax header (at most 1 MiB)")
        return super()._proc_member(tarfile_)


def decompressed(data):
    """The tar stream inside `data`, by its magic bytes: gzip, bzip2, xz or none."""
    raw = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        return Limited(gzip.GzipFile(fileobj=raw))
    if data[:3] == b"BZh":
        return Limited(bz2.BZ2File(raw))
    if data[:6] == b"\xfd7zXZ\x00":
        return Limited(lzma.LZMAFile(raw))
    return Limited(raw)


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


DAMAGED = (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError)


def unpack(data, destination):
    stream = decompressed(data)
    try:
        archive = tarfile.open(fileobj=stream, mode="r|", tarinfo=GuardedTarInfo)
    except tarfile.ReadError as error:
        raise Refused(f"the body is not a tar archive (gzip, bzip2, xz or uncompressed): {error}")
    except DAMAGED as error:
        raise Refused(f"the archive is damaged at its start: {error}")
    counts = {"files": 0, "bytes": 0, "members": 0}
    try:
        with archive:
            for member in iter(archive.next, None):
                write_member(archive, member, destination, counts)
        # The rest of the stream (padding, the compressor's checksum) is read, so damage anywhere is found.
        while stream.read(1 << 20):
            pass
    except DAMAGED as error:
        raise Refused(f"the archive is damaged after {counts['members']} members: {error}")
    if counts["files"] == 0:
        raise Refused("the archive holds no files")
    return {"files": counts["files"], "bytes": counts["bytes"]}


def write_member(archive, member, destination, counts):
    """Checks one member and writes it (a directory or a file) under `destination`."""
    counts["members"] += 1
    if counts["members"] > MAX_MEMBERS:
        raise Refused(f"the archive has more than {MAX_MEMBERS} members")
    name = safe_name(member.name)
    if not name:
        return
    target = os.path.join(destination, name)
    try:
        if member.isdir():
            if os.path.isfile(target):
                raise Refused(f"archive member {member.name!r} is a directory where the archive also has a file")
            os.makedirs(target, exist_ok=True)
            return
        if not member.isreg():
            kind = "a link" if member.issym() or member.islnk() else "a device, FIFO or other special file"
            raise Refused(f"archive member {member.name!r} is {kind}: a driver upload holds regular files and directories only")
        counts["bytes"] += member.size
        if counts["bytes"] > MAX_BYTES:
            raise Refused(f"the archive unpacks to more than {MAX_BYTES >> 20} MiB")
        if os.path.lexists(target):
            what = "a directory" if os.path.isdir(target) else "another member"
            raise Refused(f"archive member {member.name!r} is a file where the archive also has {what} of that name")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        source = archive.extractfile(member)
        with open(target, "wb") as out:
            while source is not None and (chunk := source.read(1 << 20)):
                out.write(chunk)
        counts["files"] += 1
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
        raise Refused(f"archive member {member.name!r} cannot be written: {error.strerror} (a file and a directory share a name)")


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
