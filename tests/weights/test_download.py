"""Downloads from a local HTTP server: checks, resume, atomic result, offline mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.weights.helpers import LocalServer, files_under, payload, sha256
from vidswap.errors import DownloadError
from vidswap.weights.download import download, sha256_of

FAST = {"timeout": 5.0, "progress": False}


class TestDownload:
    def test_smoke_checked_against_size_and_sha256(self, http_server: LocalServer, tmp_path: Path) -> None:
        body = payload(300_000)
        url = http_server.serve("/w.pth", body)
        result = download(url, tmp_path / "w.pth", size=len(body), sha256=sha256(body), **FAST)
        assert result.path.read_bytes() == body
        assert (result.size, result.sha256, result.resumed_from) == (len(body), sha256(body), 0)
        assert files_under(tmp_path) == [tmp_path / "w.pth"]

    def test_unknown_checksum_is_computed(self, http_server: LocalServer, tmp_path: Path) -> None:
        body = payload(1000, seed=1)
        result = download(http_server.serve("/a", body), tmp_path / "a", **FAST)
        assert result.sha256 == sha256(body) == sha256_of(tmp_path / "a")

    def test_wrong_checksum_leaves_no_file(self, http_server: LocalServer, tmp_path: Path) -> None:
        body = payload(5000)
        url = http_server.serve("/w.pth", body)
        with pytest.raises(DownloadError, match="sha256"):
            download(url, tmp_path / "w.pth", sha256=sha256(b"something else"), **FAST)
        assert files_under(tmp_path) == []

    def test_wrong_size_leaves_no_file(self, http_server: LocalServer, tmp_path: Path) -> None:
        body = payload(5000)
        url = http_server.serve("/w.pth", body)
        with pytest.raises(DownloadError, match="expected 4000"):
            download(url, tmp_path / "w.pth", size=4000, **FAST)
        assert files_under(tmp_path) == []
        assert len(http_server.requests) == 1

    def test_interruption_resumes_in_the_same_call(self, http_server: LocalServer, tmp_path: Path) -> None:
        body = payload(200_000, seed=2)
        url = http_server.serve("/w.pth", body, cut_after=70_000)
        result = download(url, tmp_path / "w.pth", size=len(body), sha256=sha256(body), attempts=2, **FAST)
        assert result.path.read_bytes() == body
        assert http_server.requests == [("/w.pth", None), ("/w.pth", "bytes=70000-")]

    def test_interruption_resumes_in_a_later_call(self, http_server: LocalServer, tmp_path: Path) -> None:
        body = payload(200_000, seed=3)
        url = http_server.serve("/w.pth", body, cut_after=50_000)
        dest = tmp_path / "w.pth"
        with pytest.raises(DownloadError, match="resumes"):
            download(url, dest, sha256=sha256(body), attempts=1, **FAST)
        part = tmp_path / "w.pth.part"
        assert not dest.exists() and part.read_bytes() == body[:50_000]

        result = download(url, dest, sha256=sha256(body), attempts=1, **FAST)
        assert result.resumed_from == 50_000
        assert dest.read_bytes() == body and not part.exists()
        assert http_server.requests[-1] == ("/w.pth", "bytes=50000-")

    def test_server_ignoring_range_restarts(self, http_server: LocalServer, tmp_path: Path) -> None:
        body = payload(100_000, seed=4)
        url = http_server.serve("/w.pth", body, cut_after=30_000, ignore_range=True)
        result = download(url, tmp_path / "w.pth", sha256=sha256(body), attempts=2, **FAST)
        assert result.path.read_bytes() == body

    def test_complete_part_is_checked_without_downloading(self, http_server: LocalServer,
                                                          tmp_path: Path) -> None:
        body = payload(1000, seed=5)
        (tmp_path / "w.pth.part").write_bytes(body)
        url = http_server.serve("/w.pth", body)
        download(url, tmp_path / "w.pth", size=len(body), sha256=sha256(body), **FAST)
        assert http_server.requests == []

    def test_http_error_is_not_retried(self, http_server: LocalServer, tmp_path: Path) -> None:
        with pytest.raises(DownloadError, match="HTTP 404"):
            download(http_server.url("/missing"), tmp_path / "m", attempts=3, **FAST)
        assert len(http_server.requests) == 1

    def test_offline_never_touches_the_network(self, no_network: None, tmp_path: Path) -> None:
        with pytest.raises(DownloadError, match=r"offline mode forbids downloading w\.pth\. Get it"):
            download("https://example.org/w.pth", tmp_path / "w.pth", offline=True, hint="Get it elsewhere.")
        assert files_under(tmp_path) == []

    def test_offline_is_a_connection_error(self, no_network: None, tmp_path: Path) -> None:
        with pytest.raises(ConnectionError):
            download("https://example.org/w.pth", tmp_path / "w.pth", offline=True)
