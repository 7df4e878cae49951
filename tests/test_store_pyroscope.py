"""Pyroscope-compatible ingestion in ``profilelab serve``: the real SDK, push and /ingest."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest
from store_util import T0, make_profiles, post

import profilelab
from profilelab.cli import main
from profilelab.store.pyroscope import INGEST_PATH, PUSH_PATH, PushRequest, parse_name
from profilelab.store.serve import ProfileServer


@pytest.fixture
def server(tmp_path: Path):
    store = profilelab.open_store(tmp_path / "store")
    srv = ProfileServer(store, "127.0.0.1", 0, labels={"cluster": "eu-1"}).start()
    yield srv
    srv.close()


def _post(
    srv: ProfileServer, path: str, body: bytes, ctype: str, **headers: str
) -> tuple[int, str, bytes]:
    status, got, data = post(srv.server_address, path, body, {"Content-Type": ctype, **headers})
    return status, got.get("content-type", ""), data


def _labels(row: dict) -> dict[str, str]:
    return {kv["key"]: kv["value"] for kv in row["labels"]}


@pytest.mark.skipif(
    importlib.util.find_spec("pyroscope") is None, reason="needs the pyroscope-io SDK"
)
def test_the_real_pyroscope_sdk_pushes_into_the_store(server, tmp_path: Path, capsys) -> None:
    program = tmp_path / "app.py"
    program.write_text(
        textwrap.dedent(
            """
            import sys, time
            import pyroscope

            def spin_in_profilelab_test(n):
                total = 0
                for i in range(n):
                    total += i * i % 7
                return total

            pyroscope.configure(
                application_name="app",
                server_address=sys.argv[1],
                tags={"env": "test", "region": "eu"},
                upload_interval=1,
            )
            end = time.time() + 2.5
            while time.time() < end:
                spin_in_profilelab_test(50_000)
            pyroscope.shutdown()
            """
        )
    )
    subprocess.run([sys.executable, str(program), server.url], check=True, timeout=120)
    rows = server.store.profiles('cpu{service_name="app"}')
    assert rows.height >= 1
    labels = _labels(rows.row(0, named=True))
    assert labels["env"] == "test" and labels["region"] == "eu" and labels["cluster"] == "eu-1"
    assert not any(k.startswith("__") for k in labels)
    code = main(["query", 'cpu{service_name="app"}', "--store", str(server.store.root), "top"])
    out = capsys.readouterr().out
    assert code == 0
    table = out.split("flat%", 1)[1].splitlines()[1:]
    first = table[0]
    assert first.split()[-1] == "spin_in_profilelab_test", out


def _push_request(pprofs: list[bytes], service: str) -> PushRequest:
    req = PushRequest()
    series = req.series.add()
    for name, value in (("__name__", "process_cpu"), ("service_name", service), ("env", "p")):
        series.labels.add(name=name, value=value)
    for i, data in enumerate(pprofs):
        series.samples.add(raw_profile=data, ID=f"id-{i}")
    return req


def test_push_protobuf_and_json(server, tmp_path: Path) -> None:
    made = make_profiles(tmp_path / "in", 3)
    body = _push_request([m.path.read_bytes() for m in made[:2]], "pb").SerializeToString()
    status, ctype, data = _post(
        server,
        PUSH_PATH,
        gzip.compress(body),
        "application/proto",
        **{"Content-Encoding": "gzip", "Connect-Protocol-Version": "1"},
    )
    assert (status, ctype, data) == (200, "application/proto", b"")
    doc = {
        "series": [
            {
                "labels": [{"name": "service_name", "value": "js"}],
                "samples": [{"rawProfile": base64.b64encode(made[2].path.read_bytes()).decode()}],
            }
        ]
    }
    status, ctype, data = _post(server, PUSH_PATH, json.dumps(doc).encode(), "application/json")
    assert (status, ctype, json.loads(data)) == (200, "application/json", {})
    rows = server.store.profiles('cpu{service_name="pb"}')
    assert rows.height == 2 and set(rows["input_id"]) == {m.input_id for m in made[:2]}
    assert _labels(rows.row(0, named=True))["env"] == "p"
    got = server.store.query('cpu{service_name="js"}')
    assert got.samples["value"].sum() == made[2].cpu_total


def test_push_errors_are_connect_errors(server) -> None:
    cases = [
        (b"\x0a\x03\x0a\x01", "application/proto", 400, "invalid_argument"),
        (b'{"series": 3}', "application/json", 400, "invalid_argument"),
        (
            _push_request([b"not a profile"], "x").SerializeToString(),
            "application/proto",
            400,
            "invalid_argument",
        ),
        (b"", "text/plain", 415, "invalid_argument"),
    ]
    for body, ctype, status, code in cases:
        got, rtype, data = _post(server, PUSH_PATH, body, ctype)
        assert (got, rtype) == (status, "application/json"), data
        assert json.loads(data)["code"] == code
    assert server.store.profiles().height == 0


def test_the_profiles_of_one_push_share_the_size_limit(tmp_path: Path) -> None:
    """Each profile fits the limit alone; together they would not: 413, nothing stored."""
    store = profilelab.open_store(tmp_path / "store")
    srv = ProfileServer(store, "127.0.0.1", 0, max_inflated=4 << 20).start()
    try:
        folded = gzip.compress(b"main;work 1\n" * (200 << 10), 1)  # 2.4 MiB inflated
        body = _push_request([folded] * 3, "big").SerializeToString()
        status, _, data = _post(srv, PUSH_PATH, body, "application/proto")
        assert status == 413 and json.loads(data)["code"] == "resource_exhausted", data
        one = _push_request([folded], "big").SerializeToString()
        assert _post(srv, PUSH_PATH, one, "application/proto")[0] == 200
        assert store.profiles('{service_name="big"}').height == 1
    finally:
        srv.close()


def test_ingest_pprof_folded_lines_and_multipart(server, tmp_path: Path) -> None:
    made = make_profiles(tmp_path / "in", 2)
    name = quote("shop.cpu{env=prod,zone=a}")
    status, _, data = _post(
        server,
        f"{INGEST_PATH}?name={name}&format=pprof&from={T0 // 10**9}",
        made[0].path.read_bytes(),
        "application/octet-stream",
    )
    assert status == 200, data
    rows = server.store.profiles('{service_name="shop", env="prod", zone="a"}')
    assert rows.height == 2 and rows["name"].unique().to_list() == ["cpu"]  # 2 sample types

    folded = b"main;work;spin 30\nmain;idle 10\n"
    status, _, data = _post(
        server,
        f"{INGEST_PATH}?name=fold&format=folded&units=samples&sampleRate=100&from=1700000000",
        folded,
        "text/plain",
    )
    assert status == 200, data
    prof = server.store.query('cpu{service_name="fold"}')
    assert prof.samples["value"].sum() == 40
    assert server.store.profiles('{service_name="fold"}')["time_ns"][0] == 1700000000 * 10**9

    lines = b"main;work;spin\nmain;work;spin\nmain;idle\n"
    status, _, data = _post(
        server, f"{INGEST_PATH}?name=lines.cpu&format=lines", lines, "text/plain"
    )
    assert status == 200, data
    assert server.store.query('cpu{service_name="lines"}').samples["value"].sum() == 3

    boundary = "profilelabBoundary"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="profile"; filename="p"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + made[1].path.read_bytes()
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="sample_type_config"\r\n\r\n'
            "{}\r\n"
            f"--{boundary}--\r\n"
        ).encode()
    )
    status, _, data = _post(
        server, f"{INGEST_PATH}?name=form.cpu", form, f"multipart/form-data; boundary={boundary}"
    )
    assert status == 200, data
    assert server.store.profiles('{service_name="form"}').height == 2


def test_ingest_errors(server) -> None:
    for query, body, text in (
        ("name=a&format=trie", b"x", "format='trie' is not supported"),
        ("name=", b"x 1\n", "name= must be an application name"),
        ("name=a{bad}", b"x 1\n", "bad tag 'bad'"),
        ("name=a&from=soon", b"x 1\n", "is not Unix seconds"),
        ("name=a", b"\x00garbage", ""),
    ):
        status, ctype, data = _post(server, f"{INGEST_PATH}?{query}", body, "text/plain")
        assert status == 400 and ctype.startswith("text/plain"), (query, data)
        assert text.encode() in data
    assert server.store.profiles().height == 0


def test_parse_name() -> None:
    assert parse_name("app.cpu{env=prod, region = eu}") == (
        "app.cpu",
        {"env": "prod", "region": "eu"},
    )
    assert parse_name("app") == ("app", {})


@pytest.mark.skipif(
    importlib.util.find_spec("profilelab.readers.jfr") is None, reason="no JFR reader yet"
)
def test_ingest_jfr(server, corpus: Path) -> None:
    jfr = (
        corpus
        / "grafana-pyroscope/pkg/og/convert/jfr/testdata/cortex-dev-01__kafka-0__cpu__0.jfr.gz"
    )
    body = gzip.decompress(jfr.read_bytes())
    status, _, data = _post(
        server, f"{INGEST_PATH}?name=kafka{{env=dev}}&format=jfr", body, "application/octet-stream"
    )
    assert status == 200, data
    assert server.store.profiles('{service_name="kafka", env="dev"}').height >= 1


@pytest.mark.skipif(
    importlib.util.find_spec("profilelab.readers.jfr") is None, reason="no JFR reader yet"
)
def test_ingest_jfr_form_with_the_java_agents_labels(server, corpus: Path) -> None:
    """What the Pyroscope Java agent sends with -Dpyroscope.format=jfr: jfr + labels parts."""
    from profilelab.readers._input import open_input
    from profilelab.readers.jfr import read_recording

    testdata = corpus / "grafana-pyroscope/pkg/og/convert/jfr/testdata"
    jfr, labels = (testdata / "dump1.jfr.gz").read_bytes(), (testdata / "dump1.labels.pb.gz")
    boundary = "b0undary"
    form = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
            for name, data in (("jfr", jfr), ("labels", labels.read_bytes()))
        )
        + f"--{boundary}--\r\n".encode()
    )
    status, _, data = _post(
        server,
        f"{INGEST_PATH}?name=javaapp{{env=dev}}&format=jfr&spyName=javaspy",
        form,
        f"multipart/form-data; boundary={boundary}",
    )
    assert status == 200, data
    stored = server.store.query('{service_name="javaapp"}')
    expected = profilelab.model.builder.build(
        read_recording(open_input(jfr), gzip.decompress(labels.read_bytes()))
    )
    assert stored.samples["value"].sum() == expected.samples["value"].sum()
    keys = set(stored.labels["key"])
    assert keys - {"thread.name", "thread.id", "thread.state"}  # context labels arrived
