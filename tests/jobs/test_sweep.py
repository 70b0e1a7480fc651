"""A resumed job deletes only the temporaries it made itself: never a user's dotfile, never
through a link, and a dot-directory does not stop it."""

from __future__ import annotations

from pathlib import Path

from vidswap.io.writer import stale_temporaries, temporary_path
from vidswap.jobs.store import JobStore


def _job(tmp_path: Path) -> JobStore:
    store = JobStore(tmp_path / "job", codec="libx264")
    store.create()
    return store


def test_sweep_deletes_own_temporaries_only(tmp_path: Path) -> None:
    store = _job(tmp_path)
    segments = store.segments_dir
    own = [temporary_path(segments / "00001.nut"), temporary_path(segments / "00001.json"),
           temporary_path(store.job_file), temporary_path(store.faces_file)]
    kept = [segments / ".gitkeep", segments / ".bashrc", segments / ".notes.vidswap-tmp-0123abcd.txt",
            store.root / ".mine.vidswap-tmp-0123abcd.json"]
    for path in own + kept:
        path.write_bytes(b"x")
    (segments / ".cache").mkdir()  # a dot-directory
    (segments / ".cache" / "f").write_bytes(b"x")
    assert sorted(store.sweep()) == sorted(own)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in own)
    assert (segments / ".cache" / "f").exists()


def test_sweep_never_follows_a_link(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "job")
    store.root.mkdir()
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    victim = temporary_path(elsewhere / "00001.nut")
    victim.write_bytes(b"x")
    (elsewhere / ".bashrc").write_bytes(b"x")
    store.segments_dir.symlink_to(elsewhere, target_is_directory=True)
    linked = store.root / temporary_path(Path("job.json")).name
    linked.symlink_to(elsewhere / ".bashrc")
    assert store.sweep() == []
    assert victim.exists() and (elsewhere / ".bashrc").exists() and linked.is_symlink()


def test_stale_output_temporaries(tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    mine, other = temporary_path(out), temporary_path(tmp_path / "other.mkv")
    for path in (mine, other, tmp_path / ".out.mkv"):
        path.write_bytes(b"x")
    assert stale_temporaries(out) == [mine]
