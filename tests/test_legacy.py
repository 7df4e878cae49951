"""Legacy pprof formats: decoded exactly as Go's parser decodes them."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

import profilelab
from profilelab import FormatError
from profilelab.readers import read
from profilelab.writers.pprof import encode
from tests._gostring import go_duration, go_string
from tests._pprof_tools import go_pprof

TESTDATA = "google-pprof/profile/testdata"
GOLDEN = [
    "go.crc32.cpu",
    "go.godoc.thread",
    "gobench.cpu",
    "gobench.heap",
    "cppbench.cpu",
    "cppbench.heap",
    "cppbench.contention",
    "cppbench.growth",
    "cppbench.thread",
    "cppbench.thread.all",
    "cppbench.thread.none",
    "java.cpu",
    "java.heap",
    "java.contention",
]
DRIVER = [
    "google-pprof/internal/driver/testdata/cppbench.contention",
    "google-pprof/internal/driver/testdata/cppbench.small.contention",
    "google-pprof/internal/driver/testdata/cppbench.cpu",
    "google-pprof/internal/driver/testdata/go.crc32.cpu",
]
FUZZ = "google-pprof/fuzz/testdata/7e3c92482f6f39fc502b822ded792c589849cca8"


@pytest.mark.parametrize("name", GOLDEN)
def test_decode_matches_go_golden_dump(corpus: Path, name: str) -> None:
    """Samples, values (heap unsampling included), labels, locations, addresses and
    mappings equal the ``Profile.String()`` dump of Go's parser, byte for byte."""
    raws = read(corpus / TESTDATA / name)
    assert len(raws) == 1 and raws[0].format == "pprof-legacy"
    assert go_string(raws[0]) == (corpus / TESTDATA / f"{name}.string").read_text()
    profilelab.load(corpus / TESTDATA / name).check()


@pytest.mark.golang
@pytest.mark.parametrize("name", [f"{TESTDATA}/{n}" for n in GOLDEN] + DRIVER)
def test_go_reads_our_conversion_like_the_legacy_input(
    corpus: Path, name: str, tmp_path: Path
) -> None:
    """``go tool pprof`` on the legacy file and on our pprof rewrite of it agree."""
    out = tmp_path / "converted.pb.gz"
    out.write_bytes(encode(profilelab.load(corpus / name)))
    assert go_pprof("-raw", out) == go_pprof("-raw", corpus / name)
    assert go_pprof("-top", out) == go_pprof("-top", corpus / name)


def test_drop_frames_follow_the_profile_kind(corpus: Path) -> None:
    heap = read(corpus / TESTDATA / "cppbench.heap")[0]
    assert heap.drop_frames is not None and "tc_malloc" in heap.drop_frames
    assert heap.keep_frames is not None and "runtime" in heap.keep_frames
    assert "RecordLockProfileData" in (
        read(corpus / TESTDATA / "cppbench.contention")[0].drop_frames or ""
    )
    assert "ProfileData::Add" in (read(corpus / TESTDATA / "cppbench.cpu")[0].drop_frames or "")


def test_fuzz_regression_input_is_a_clear_error(corpus: Path) -> None:
    with pytest.raises(FormatError) as err:
        profilelab.load(corpus / FUZZ)
    message = str(err.value)
    assert message.startswith(str(corpus / FUZZ))
    assert "legacy Java heapz" in message and "second value must be non-zero" in message


def test_gzipped_legacy_text_is_read(corpus: Path) -> None:
    data = gzip.compress((corpus / TESTDATA / "gobench.heap").read_bytes())
    p = profilelab.load(data, name="gobench.heap.gz")
    assert p.profiles["format"].to_list() == ["pprof-legacy"] * 4


# ---- variants without goldens: Go's own parser is the oracle ---------------------------------

MAPS = (
    "\nMAPPED_LIBRARIES:\n"
    "build=/opt/app\n"
    "I0101 12:00:00.000000  1234 maps.cc:10] "
    "00400000-00500000 r-xp 00000000 00:00 0 $build/server\n"
    "00500000-00600000 rw-p 00100000 00:00 0 $build/server\n"
    "7f0000000000-7f0000100000 r-xp 00000000 08:01 1234 /lib/libc.so.6\n"
)
SYNTHETIC = {
    "heapprofile": (
        "heap profile: 2: 100 [ 3: 300] @ heapprofile\n"
        "1: 50 [2: 200] @ 0x401000 0x402000\n"
        "1: 50 [1: 100] @ 0x401000 0x7f0000000100\n" + MAPS
    ),
    "heap_v2": (
        "heap profile: 2: 3000 [ 2: 3000] @ heap_v2/524288\n"
        "2: 3000 [2: 3000] @ 0x401000 0x402000\n"
        "# a comment\n\n"
    ),
    "fragmentationz": (
        "heap profile: 1: 10 [1: 10] @ fragmentationz\n1: 10 [1: 10] @ 0x401234 0x405678\n"
    ),
    "go mutex": (
        "--- mutex:\ncycles/second=2000000000\nsampling period=5\n"
        "20 2 @ 0x401000 0x402000\n7 1 @ 0x401000\n"
        + MAPS.replace("MAPPED_LIBRARIES:", "--- Memory map: ---")
    ),
    "goroutine": (
        "# header comment\ngoroutine profile: total 3\n2 @ 0x401001 0x402002\n1 @ 0x403003\n"
    ),
    "thread without map": (
        "--- Thread 7f00 (name: main/1) stack: ---\n  PC: 0x401000 0x402001\n"
        "--- Thread 7f01 (name: worker/2) stack: ---\n  [same as previous thread]\n"
        "---- no stack trace for 3 threads\n"
    ),
}


def _cpu_binary(
    order: str, word: str, period_us: int, records: list[list[int]], tail: str
) -> bytes:
    words = [0, 3, 0, period_us, 0]
    for count, *addrs in records:
        words += [count, len(addrs), *addrs]
    words += [0, 1, 0]
    return struct.pack(f"{order}{len(words)}{word}", *words) + tail.encode()


CPU_BINARY = {
    "32-bit big-endian": _cpu_binary(
        ">", "I", 10000, [[3, 0x401000, 0x402005], [1, 0x401010, 0x402005], [2, 0x7F000010]], MAPS
    ),
    "64-bit little-endian no map": _cpu_binary(
        "<", "Q", 2500, [[5, 0x401000, 0x402005, 0x403000], [1, 0x402005]], ""
    ),
}


@pytest.mark.golang
@pytest.mark.parametrize("name", sorted(SYNTHETIC) + sorted(CPU_BINARY))
def test_legacy_variants_agree_with_go(name: str, tmp_path: Path) -> None:
    data = CPU_BINARY[name] if name in CPU_BINARY else SYNTHETIC[name].encode()
    src = tmp_path / "legacy.prof"
    src.write_bytes(data)
    profile = profilelab.load(src)
    profile.check()
    out = tmp_path / "converted.pb.gz"
    out.write_bytes(encode(profile))
    assert go_pprof("-raw", out) == go_pprof("-raw", src)


MALFORMED = {
    "heap sample garbage": (
        b"heap profile: 1: 2 [1: 2] @ heap_v2/524288\n1: 2 [1: 2] @ 0x1\nnot a sample\n",
        "malformed legacy heap profile: line 3: not a heap sample",
    ),
    "heap zero count": (
        b"heap profile: 1: 2 [1: 2] @ heap_v2/524288\n0: 2 [0: 0] @ 0x1\n",
        "inuse count was 0 but inuse bytes was 2",
    ),
    "count line": (
        b"goroutine profile: total 1\n1 @ 0x1 garbage\n",
        "malformed legacy Go count profile: line 2",
    ),
    "huge address": (
        b"goroutine profile: total 1\n1 @ 0x1ffffffffffffffffff\n",
        "does not fit in 64 bits",
    ),
    "thread header": (
        b"--- threadz 1 ---\n--- Thread 1 (name: a/1) stack: ---\n  PC: 0x1\nnonsense\n",
        "expected a '--- Thread' header",
    ),
    "contention sample": (
        b"--- contentionz 1 ---\nsampling period = 1\nnot a sample line\n",
        "malformed legacy contention profile: line 3",
    ),
    "cpu truncated": (
        struct.pack("<5Q", 0, 3, 0, 10000, 0) + struct.pack("<4Q", 1, 9, 0x1000, 0x2000),
        "malformed legacy binary CPU profile: record at word 5 has 9 addresses",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_legacy_inputs_fail_clearly(name: str) -> None:
    data, expected = MALFORMED[name]
    with pytest.raises(FormatError) as err:
        profilelab.load(data, name="bad.prof")
    assert str(err.value).startswith("bad.prof: ") and expected in str(err.value)


def test_go_duration_format() -> None:
    assert go_duration(16_502_830_000_000) == "4h35m2.83s"
    assert go_duration(2_000_000_000) == "2s"
    assert go_duration(1_500_000) == "1.5ms"
