"""Bounded input: regular files only, capped sizes, gunzip stopped early, limits validated.

Each case runs through ISA-L's gunzip, the compiled one and the pure-Python one where they exist.
"""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import profilelab
from profilelab.errors import ConfigError, FormatError, TooLargeError
from profilelab.readers import _input, known_head, limits
from profilelab.readers._input import inflate_bounded, read_bytes
from profilelab.readers.traces import read_traces
from tests.test_pprof_malformed import PPROF_HEAD, gzip_of_zeros


@pytest.fixture(params=["isal", "compiled", "python"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "isal" and _input._isal_zlib is None:
        pytest.skip("the isal package is not installed")
    if request.param != "isal":
        monkeypatch.setattr(_input, "_isal_zlib", None)
    if request.param == "python":
        monkeypatch.setattr(_input, "_inflate", None)
    yield request.param


def _two_members_last_small() -> bytes:
    """The last member's trailer (the first size guess) understates the whole output."""
    return gzip.compress(PPROF_HEAD * 50_000) + gzip.compress(b"x")


def test_compiled_gunzip_takes_any_limit_without_wrapping() -> None:
    from profilelab._native import _inflate

    data = _two_members_last_small()
    assert _inflate.gunzip(data, sys.maxsize) == PPROF_HEAD * 50_000 + b"x"
    with pytest.raises(ValueError, match="must not be negative"):
        _inflate.gunzip(data, -1)
    with pytest.raises(OverflowError):
        _inflate.gunzip(data, 2**64 - 1)  # was read as "K": wrapped to a huge size_t


@pytest.mark.parametrize("value", ["-1", "0", "abc", "1e9", str(2**64)])
def test_bad_limit_settings_are_one_clear_error(
    value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "two.pb.gz"
    path.write_bytes(_two_members_last_small())
    monkeypatch.setenv("PROFILELAB_MAX_INFLATED_BYTES", value)
    with pytest.raises(ConfigError) as err:
        profilelab.load(path)
    assert str(err.value).startswith(f"PROFILELAB_MAX_INFLATED_BYTES={value!r}: expected a whole")


def test_every_limit_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"PROFILELAB_MAX_{n}" for n in ("INPUT_BYTES", "INFLATED_BYTES", "INFLATE_RATIO")]
    names += ["PROFILELAB_MAX_STACK_DEPTH", "PROFILELAB_MAX_STACK_FRAMES"]
    for k, name in enumerate(names):
        monkeypatch.setenv(name, str(1000 + k))
    assert list(vars(limits.current()).values()) == [1000 + k for k in range(len(names))]


def test_zero_bomb_is_refused_on_its_first_bytes(impl: str) -> None:
    bomb = gzip_of_zeros(512)
    with pytest.raises(FormatError) as err:
        profilelab.load(bomb, name="zeros.gz")
    assert str(err.value) == (
        "zeros.gz: unrecognized format inside gzip (expected a known format; "
        "first bytes 00 00 00 00 00 00 00 00); not inflated further"
    )


def test_trace_bomb_is_refused_on_its_first_bytes(impl: str) -> None:
    with pytest.raises(FormatError, match=r"^t\.gz: unrecognized format inside gzip"):
        read_traces(gzip_of_zeros(512), name="t.gz")


def test_bomb_with_a_valid_head_stops_at_the_ratio(impl: str) -> None:
    bomb = gzip_of_zeros(200, PPROF_HEAD)  # 200 MiB from 200 KB: past 100:1 once over 64 MiB
    with pytest.raises(TooLargeError, match=r"^b\.gz: gzip data inflates more than 100 times"):
        inflate_bounded(bomb, "b.gz", sniff=known_head)


def test_ratio_is_not_applied_below_the_floor(impl: str) -> None:
    small = gzip_of_zeros(8, PPROF_HEAD)  # 1000:1, but only 8 MiB
    assert len(inflate_bounded(small, "s.gz", sniff=known_head)) == len(PPROF_HEAD) + (8 << 20)


def test_ratio_setting_is_obeyed(impl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILELAB_MAX_INFLATE_RATIO", "5000")
    assert len(inflate_bounded(gzip_of_zeros(100), "z.gz")) == 100 << 20


def test_every_member_is_inflated_past_a_short_trailer(impl: str) -> None:
    data = _two_members_last_small() + b"\x00\x00" + gzip.compress(b"yz") + b"trailing"
    assert inflate_bounded(data, "m.gz") == PPROF_HEAD * 50_000 + b"xyz"


def test_inflate_bounded_leaves_plain_bytes_alone() -> None:
    assert inflate_bounded(b"plain", "p", sniff=lambda head: False) == b"plain"


def test_inflate_bounded_names_what_it_expected(impl: str) -> None:
    with pytest.raises(FormatError, match=r"^body: unrecognized format inside gzip \(expected"):
        inflate_bounded(gzip.compress(b"<html>"), "body", sniff=lambda h: False, expected="JSON")


def test_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FormatError, match=f"^{fifo}: not a regular file \\(a FIFO\\)"):
        profilelab.load(fifo)


def test_symlink_to_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "cpu.pb.gz"
    link.symlink_to("/dev/zero")
    with pytest.raises(FormatError, match="not a regular file \\(a character device\\)"):
        profilelab.load(link)


def test_plain_files_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.folded"
    path.write_bytes(b"main;work 1\n" * 1000)
    monkeypatch.setenv("PROFILELAB_MAX_INPUT_BYTES", "4096")
    with pytest.raises(TooLargeError, match="input is larger than the limit of 4096 bytes"):
        profilelab.load(path)
    with open(path, "rb") as fh, pytest.raises(TooLargeError):
        read_bytes(fh)
    monkeypatch.setenv("PROFILELAB_MAX_INPUT_BYTES", "12000")
    assert profilelab.load(path).samples.height > 0  # no longer refused


def test_ingest_refuses_special_files_and_keeps_the_rest(tmp_path: Path) -> None:
    good = tmp_path / "good.folded"
    good.write_bytes(b"main;work 3\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.pb.gz"
    zero.symlink_to("/dev/zero")
    store = profilelab.open_store(tmp_path / "store")
    report = store.ingest([good, fifo, zero], jobs=1)  # a FIFO blocked the batch forever
    assert report.stored == 1
    reasons = dict(report.failed)
    assert reasons[str(fifo)].startswith("not a regular file (a FIFO)")
    assert reasons[str(zero)].startswith("not a regular file (a character device)")


def test_small_gzip_is_inflated_once(impl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An input whose whole output fits in the head is not inflated a second time, with
    what follows its member read as gunzip reads it (zero padding, trailing garbage)."""
    body = PPROF_HEAD * 100

    def no_second_inflate(*args: object) -> bytes:
        raise AssertionError("inflated twice")

    monkeypatch.setattr(_input, "gunzip", no_second_inflate)
    for tail in (b"", b"\x00\x00\x00", b"trailing garbage"):
        assert inflate_bounded(gzip.compress(body) + tail, "s.gz", sniff=known_head) == body


def test_small_gzip_keeps_the_rules_of_a_full_inflate(impl: str) -> None:
    two = gzip.compress(PPROF_HEAD) + gzip.compress(b"more")
    assert inflate_bounded(two, "two.gz", sniff=known_head) == PPROF_HEAD + b"more"
    with pytest.raises(TooLargeError, match=r"^s\.gz: gzip data inflates past the limit of 10"):
        inflate_bounded(gzip.compress(PPROF_HEAD * 4), "s.gz", limit=10, sniff=known_head)
    with pytest.raises(FormatError, match=r"^t\.gz: truncated gzip stream"):
        inflate_bounded(gzip.compress(PPROF_HEAD * 4)[:-6], "t.gz", sniff=known_head)


def test_a_small_gzip_input_is_sniffed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """read() reuses the format its head check found when the head is the whole input."""
    from profilelab import readers

    readers._load_builtin_formats()
    calls: list[str] = []

    def counted(fmt: readers.Format) -> readers.Format:
        def sniff(data: bytes) -> bool:
            calls.append(fmt.name)
            return fmt.sniff(data)

        return readers.Format(fmt.name, sniff, fmt.read)

    monkeypatch.setattr(readers, "FORMATS", [counted(f) for f in readers.FORMATS])
    data = (Path(__file__).parent / "data").glob("**/*.pb.gz")
    small = next(p for p in sorted(data) if p.stat().st_size < 8 << 10)
    raws = readers.read(small)
    assert raws and raws[0].format == "pprof"
    assert calls.count("pprof") == 1


def test_held_limits_are_read_once_and_released(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILELAB_MAX_INPUT_BYTES", "1000")
    with limits.held():
        monkeypatch.setenv("PROFILELAB_MAX_INPUT_BYTES", "2000")
        assert limits.current().max_input_bytes == 1000  # held for the block
        with limits.held():
            assert limits.current().max_input_bytes == 1000
        assert limits.current().max_input_bytes == 1000  # the inner block restores the outer
    assert limits.current().max_input_bytes == 2000


def test_held_limits_belong_to_the_thread_holding_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("PROFILELAB_MAX_INPUT_BYTES", "1000")
    with limits.held():
        monkeypatch.setenv("PROFILELAB_MAX_INPUT_BYTES", "2000")
        with ThreadPoolExecutor(1) as pool:
            other = pool.submit(lambda: limits.current().max_input_bytes).result()
    assert other == 2000


def test_a_bad_setting_is_not_held_each_input_reports_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "two.pb.gz"
    path.write_bytes(_two_members_last_small())
    monkeypatch.setenv("PROFILELAB_MAX_INPUT_BYTES", "abc")
    with limits.held(), pytest.raises(ConfigError):
        limits.current()
    report = profilelab.open_store(tmp_path / "store").ingest([path], jobs=1)
    assert [(src, why.split(":")[0]) for src, why in report.failed] == [
        (str(path), "PROFILELAB_MAX_INPUT_BYTES='abc'")
    ]
