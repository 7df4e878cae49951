"""Malformed pprof inputs: one clear FormatError each, from the library and from the CLI.

Each case runs through the compiled path (C decoder, C gunzip) and the one without C
(the numpy decoder, forced by PROFILELAB_PPROF_DECODER; Python's gunzip).
Also: a decompression bomb is refused with bounded memory, and legitimately odd profiles
(a 20,000-frame recursion, hostile function names) load.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest
from pprof_build import PprofBuilder

import profilelab
from profilelab.errors import FormatError
from profilelab.readers import _input, read

ROOT = Path(__file__).resolve().parent.parent
WIRE = "not a pprof profile (protobuf decode failed: "


@pytest.fixture(params=["isal", "compiled", "python"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test with ISA-L's gunzip, with the compiled kernels, then with the fallbacks."""
    if request.param == "isal" and _input._isal_zlib is None:
        pytest.skip("the isal package is not installed")
    if request.param != "isal":
        monkeypatch.setattr(_input, "_isal_zlib", None)
    if request.param == "python":
        monkeypatch.setenv("PROFILELAB_PPROF_DECODER", "numpy")
        monkeypatch.setattr(_input, "_inflate", None)
    yield request.param


def _valid() -> PprofBuilder:
    b = PprofBuilder([("samples", "count")])
    main = b.function("main.main", "main.go")
    b.sample([b.location(main, address=0x40)], [1])
    return b


def _edit(change: Callable[[PprofBuilder], None]) -> bytes:
    b = _valid()
    change(b)
    return b.bytes(gzipped=True)


def _bad_string_index(b: PprofBuilder) -> None:
    b.msg.function[0].name = 99


def _unknown_location(b: PprofBuilder) -> None:
    b.msg.sample[0].location_id.append(42)


def _extra_value(b: PprofBuilder) -> None:
    b.msg.sample[0].value.append(7)


def _function_id_zero(b: PprofBuilder) -> None:
    b.msg.function[0].id = 0


def _negative_string_index(b: PprofBuilder) -> None:
    b.msg.sample_type[0].unit = -3


# name -> (file content, what the message must say)
CASES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty input"),
    "garbage": (bytes(range(256))[::-7] * 3, "unrecognized format"),
    "plain text": (b"hello world, this is not a profile\n", WIRE),
    "truncated gzip": (_valid().bytes(gzipped=True)[:30], "truncated gzip stream"),
    "gzip of garbage": (gzip.compress(b"\xff\xfe\xfd garbage garbage"), "unrecognized format"),
    "damaged gzip": (b"\x1f\x8b\x08\x00" + b"\xff" * 40, "damaged gzip data at byte 0"),
    "truncated protobuf": (_valid().bytes()[:-3], WIRE),
    "string index out of range": (
        _edit(_bad_string_index),
        "function name string index 99 out of range (table has 5)",
    ),
    "negative string index": (
        _edit(_negative_string_index),
        "sample unit string index -3 out of range",
    ),
    "unknown location": (_edit(_unknown_location), "sample 0 refers to unknown location 42"),
    "more values than sample types": (
        _edit(_extra_value),
        "sample 0 has 2 values for 1 sample types",
    ),
    "function id 0": (
        _edit(_function_id_zero),
        "function with reserved id 0 (pprof ids start at 1; "
        "go tool pprof rejects this profile too)",
    ),
}


@pytest.fixture
def case_file(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str]:
    content, expected = CASES[request.param]
    path = tmp_path / f"{request.param.replace(' ', '-')}.pb.gz"
    path.write_bytes(content)
    return path, expected


@pytest.mark.parametrize("case_file", sorted(CASES), indirect=True)
def test_library_raises_one_format_error(case_file: tuple[Path, str], impl: str) -> None:
    path, expected = case_file
    with pytest.raises(FormatError) as err:
        profilelab.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "profilelab", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("case_file", sorted(CASES), indirect=True)
def test_cli_prints_one_line_and_fails(case_file: tuple[Path, str]) -> None:
    path, expected = case_file
    run = _cli("info", str(path))
    assert run.returncode == 1
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"profilelab: error: {path}: ")
    assert expected in lines[0]


# ---- decompression bomb ---------------------------------------------------------------------


def gzip_of_zeros(mib: int, head: bytes = b"") -> bytes:
    """A gzip member that inflates to ``head`` and ``mib`` MiB of zeros, built without
    compressing them all: after a full flush, deflate output for the next identical MiB is
    byte-identical."""
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    size = len(head) + (mib << 20)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")
    return header + start + block * mib + final + trailer


#: The start of a pprof Profile (a sample_type ValueType), so that the bomb is not refused
#: on its first inflated bytes but by the size limit.
PPROF_HEAD = b"\x0a\x04\x08\x01\x10\x02"


def test_bomb_builder_makes_real_gzip() -> None:
    assert gzip.decompress(gzip_of_zeros(3)) == bytes(3 << 20)
    assert gzip.decompress(gzip_of_zeros(2, b"head")) == b"head" + bytes(2 << 20)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.pb.gz"
    path.write_bytes(gzip_of_zeros(2048, PPROF_HEAD))  # 2 GiB once inflated; 2 MB on disk
    return path


def test_bomb_is_refused_at_the_limit(bomb: Path, impl: str) -> None:
    with pytest.raises(FormatError) as err:
        read(bomb, limit=8 << 20)
    assert str(err.value) == (
        f"{bomb}: gzip data inflates past the limit of {8 << 20} bytes "
        "(set PROFILELAB_MAX_INFLATED_BYTES to raise it)"
    )


def test_bomb_is_refused_by_the_cli_with_bounded_memory(bomb: Path) -> None:
    """The environment variable sets the limit; peak memory stays far below 2 GiB."""
    limit = 32 << 20
    # VmHWM is the peak of this process's own memory map; ru_maxrss would also count the
    # parent's pages when the child was forked from a large pytest process.
    script = (
        "import re, sys\n"
        "from profilelab.cli import main\n"
        "code = main(['info', sys.argv[1]])\n"
        "status = open('/proc/self/status').read()\n"
        "print(re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {"PROFILELAB_MAX_INFLATED_BYTES": str(limit), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", script, str(bomb)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    error, peak_kib = run.stderr.splitlines()
    assert run.returncode == 1
    assert f"inflates past the limit of {limit} bytes" in error
    assert int(peak_kib) * 1024 < 512 << 20


# ---- odd but valid profiles -------------------------------------------------------------------


def test_deep_recursion_loads(tmp_path: Path, impl: str) -> None:
    b = PprofBuilder([("samples", "count")])
    main, rec = b.function("main.main"), b.function("main.recurse")
    l_main, l_rec = b.location(main, address=1), b.location(rec, address=2)
    b.sample([l_rec] * 19_999 + [l_main], [3])
    b.sample([l_rec] * 10 + [l_main], [1])
    path = tmp_path / "deep.pb.gz"
    path.write_bytes(b.bytes(gzipped=True))
    p = profilelab.load(path)
    p.check()
    assert sorted(p.stacks["depth"].to_list()) == [11, 20_000]
    assert p.frames.height == 2
    assert p.samples["value"].sum() == 4
    run = _cli("info", str(path))
    assert run.returncode == 0, run.stderr
    assert "total: 4" in run.stdout


HOSTILE = [
    '<script>alert("pwned")</script>',
    "a\"b'c`d\\e",
    "line one\nline two\r\nline three",
    "\x00nul\x01\x1b[31mred",
    "&amp; &lt;b&gt; {{template}} ${shell}",
    "emoji 🔥 and RTL \u202e gnirts",
    "x" * 100_000,
]
INVALID_UTF8 = b"bad \xff\xfe \xc3( \xed\xa0\x80 end"


def test_hostile_function_names_load_unchanged(tmp_path: Path, impl: str) -> None:
    b = PprofBuilder([("samples", "count")])
    names: list[str | bytes] = [*HOSTILE, INVALID_UTF8]
    for i, name in enumerate(names):
        b.sample([b.location(b.function(name, file=name), address=i + 1)], [i + 1])
    path = tmp_path / "hostile.pb.gz"
    path.write_bytes(b.bytes(gzipped=True))
    p = profilelab.load(path)
    p.check()
    expected = {*HOSTILE, INVALID_UTF8.decode("utf-8", errors="replace")}
    assert set(p.frames["function"].to_list()) == expected
    assert set(p.frames["file"].to_list()) == expected
    by_name = p.samples.join(p.stacks, on="stack_id").with_columns(
        pl.col("frame_ids").list.first().alias("frame_id")
    )
    assert by_name.join(p.frames, on="frame_id")["value"].sum() == sum(range(1, len(names) + 1))
    run = _cli("info", str(path))
    assert run.returncode == 0, run.stderr
