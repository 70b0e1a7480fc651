"""``vidswap weights``: list, fetch, verify, remove, path and import through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tests.weights.helpers import LocalServer, sha256, torch_bytes, write_manifest
from vidswap import cli


def run(*args: str) -> object:
    return CliRunner().invoke(cli.main, ["weights", *args])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


class TestList:
    def test_json_lists_the_manifest(self, home: Path) -> None:
        result = run("--home", str(home), "list", "--json")
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        rows = {row["name"]: row for row in doc["weights"]}
        assert doc["home"] == str(home) and doc["defaults"]
        assert rows["ghost_unet_2blocks"]["status"] == "not cached"
        assert rows["ghost_unet_2blocks"]["licence"] == "Apache-2.0"
        assert rows["yunet_onnx"]["status"] == "package" and Path(rows["yunet_onnx"]["path"]).is_file()
        assert all(row["default"] == (name in doc["defaults"]) for name, row in rows.items())

    def test_table(self, home: Path) -> None:
        result = run("--home", str(home), "list")
        assert result.exit_code == 0
        assert "ghost_unet_2blocks *" in result.stdout and "Apache-2.0" in result.stdout

    def test_home_from_environment(self, home: Path) -> None:
        result = CliRunner(env={"VIDSWAP_HOME": str(home)}).invoke(cli.main, ["weights", "list", "--json"])
        assert json.loads(result.stdout)["home"] == str(home)


class TestImportRoundTrip:
    def test_import_list_path(self, tmp_path: Path, home: Path) -> None:
        src = tmp_path / "g.pth"
        state = {"a.weight": torch.randn(3, 2), "a.bias": torch.randn(3)}
        torch.save(state, src)
        result = run("--home", str(home), "import", str(src), "--as", "mine", "--licence", "Apache-2.0",
                     "--role", "aei")
        assert result.exit_code == 0, result.output
        stored = Path(result.stdout.strip())
        assert stored.suffix == ".safetensors" and stored.is_file()

        path = run("--home", str(home), "path", "mine")
        assert path.exit_code == 0 and Path(path.stdout.strip()) == stored

        listed = json.loads(run("--home", str(home), "list", "--json").stdout)["weights"]
        rows = {row["name"]: row for row in listed}
        row = rows["mine"]
        assert (row["status"], row["role"], row["licence"], row["origin"]) == ("cached", "aei", "Apache-2.0",
                                                                                "import")
        assert row["provenance"]["original_sha256"] == sha256(src.read_bytes())
        assert row["provenance"]["source"] == str(src.resolve())
        assert row["provenance"]["original_name"] == "g.pth"

        again = run("--home", str(home), "import", str(src), "--as", "mine")
        assert again.exit_code == 1 and "--force" in again.stderr

    def test_path_of_missing_entry(self, home: Path) -> None:
        result = run("--home", str(home), "path", "ghost_unet_2blocks")
        assert result.exit_code == 1
        assert "vidswap weights fetch ghost_unet_2blocks" in result.stderr and result.stdout == ""


class TestFetchAndVerify:
    def test_fetch_verify_corrupt(self, http_server: LocalServer, tmp_path: Path, home: Path) -> None:
        body = torch_bytes(seed=11, size=5000)
        manifest = write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", body)}], defaults=["g"])
        base = ("--home", str(home), "--manifest", str(manifest))
        fetched = run(*base, "fetch", "--defaults", "--quiet")
        assert fetched.exit_code == 0, fetched.output
        path = Path(fetched.stdout.strip())
        assert path.read_bytes() == body and "licence Test-1.0" in fetched.stderr

        ok = run(*base, "verify", "--json")  # no sha256 pinned: trusted on first use, and said so
        assert ok.exit_code == 0
        assert json.loads(ok.stdout)["results"] == [{"name": "g", "status": "unpinned", "problems": [],
                                                     "recorded_sha256": sha256(body)}]
        lines = run(*base, "verify")
        assert lines.exit_code == 0 and lines.stdout.startswith(f"g: unpinned (matches the sha256 recorded on "
                                                                 f"arrival, {sha256(body)};")

        path.write_bytes(body[:100] + bytes([body[100] ^ 0xFF]) + body[101:])
        bad = run(*base, "verify")
        assert bad.exit_code == 1 and "g: corrupt" in bad.stdout and "sha256" in bad.stdout

    def test_wrong_checksum_is_an_error_and_leaves_nothing(self, http_server: LocalServer, tmp_path: Path,
                                                           home: Path) -> None:
        manifest = write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": http_server.serve("/g.pth", b"abc"),
             "sha256": sha256(b"abd")}])
        result = run("--home", str(home), "--manifest", str(manifest), "fetch", "g", "--quiet")
        assert result.exit_code == 1 and "sha256" in result.stderr
        # the licence is told before the download, then the one error line
        assert result.stderr.splitlines()[0] == "downloading g (g.pth): licence Test-1.0"
        assert result.stderr.splitlines()[1].startswith("error: ") and len(result.stderr.splitlines()) == 2
        assert not any(p.is_file() for p in (home / "weights").rglob("*"))

    def test_offline_fetch_fails_with_instructions(self, no_network: None, home: Path) -> None:
        result = run("--home", str(home), "fetch", "ghost_unet_2blocks", "--offline")
        assert result.exit_code == 1
        assert "vidswap weights import G_unet_2blocks.pth --as ghost_unet_2blocks" in result.stderr

    def test_fetch_needs_a_name(self, home: Path) -> None:
        result = run("--home", str(home), "fetch")
        assert result.exit_code == 1 and "--defaults" in result.stderr


class TestRemoveAndCommercial:
    def test_remove(self, tmp_path: Path, home: Path) -> None:
        src = tmp_path / "mine.onnx"
        src.write_bytes(b"\x08\x07" * 600)
        imported = run("--home", str(home), "import", str(src), "--as", "mine", "--licence", "MIT")
        assert imported.exit_code == 0, imported.output
        removed = run("--home", str(home), "remove", "mine")
        assert removed.exit_code == 0, removed.output
        assert removed.stdout.startswith(f"removed mine ({home / 'weights' / 'mine'}): ")
        assert "kB freed" in removed.stdout
        assert not (home / "weights" / "mine").exists()
        again = run("--home", str(home), "remove", "mine")
        assert again.exit_code == 1 and "error: 'mine' is not in the cache" in again.stderr
        package = run("--home", str(home), "remove", "yunet_onnx")
        assert package.exit_code == 1 and "nothing to remove" in package.stderr

    def test_fetch_commercial_only_refuses_before_downloading(self, no_network: None, home: Path) -> None:
        result = run("--home", str(home), "fetch", "--defaults", "--commercial-only")
        assert result.exit_code == 1
        assert result.stderr.startswith("error: --commercial-only: ")
        assert "ghost_arcface_backbone" in result.stderr and "ghost_unet_2blocks" not in result.stderr
        assert not home.exists()
