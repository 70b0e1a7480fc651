"""HTTP(S) downloads that resume, check size and sha256, and appear only when complete.

Bytes go to ``DEST.part``; an interrupted transfer keeps them and the next attempt (in the
same call, or a later one) asks the server for the rest with a ``Range`` request. Only a
file whose size and sha256 match (when known) is renamed to ``DEST``; a mismatch deletes
the ``.part`` file, so a bad download leaves nothing behind. Progress goes to stderr.

Redirects are followed only within the URL's own origin (scheme, host and port) or to the
origins the caller allows; a redirect elsewhere, a downgrade to http or to another scheme
(urllib's own handler follows ftp://) is refused, and an HTML page (a login or error page
served with status 200) is never taken for the file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from vidswap import __version__
from vidswap.errors import DownloadError

__all__ = ["DownloadResult", "download", "origin_of", "sha256_of"]

_CHUNK = 1 << 20
_USER_AGENT = f"vidswap/{__version__} (+urllib)"


@dataclass(frozen=True, kw_only=True)
class DownloadResult:
    """A completed, checked download.

    Attributes:
        path: the final file.
        size: its size in bytes.
        sha256: its sha256 (hex), computed from the bytes on disk.
        resumed_from: bytes that were already in the ``.part`` file when the call started.
    """

    path: Path
    size: int
    sha256: str
    resumed_from: int


class _Interrupted(Exception):
    """The transfer stopped early; what arrived stays in the ``.part`` file."""


def sha256_of(path: Path) -> str:
    """The sha256 (hex) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (the default port left out), lower-cased."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port is not None and parts.port != default else ""
    return f"{parts.scheme}://{(parts.hostname or '').lower()}{port}"


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the first URL's origin or an allowed one (at most 10 hops)."""

    max_redirections = 10

    def __init__(self, url: str, allowed: tuple[str, ...]) -> None:
        self.url, self.allowed = url, {origin_of(url), *(o.lower() for o in allowed)}

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: http.client.HTTPMessage, newurl: str) -> urllib.request.Request | None:
        target = origin_of(newurl)
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise DownloadError(f"{self.url} redirects to {newurl}, which is not http(s); refused")
        if target not in self.allowed:
            raise DownloadError(f"{self.url} redirects to {newurl}, another origin ({target}) than the "
                                f"manifest allows; refused (an entry's redirect_origins lists the origins "
                                f"it may be redirected to)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(url: str, dest: Path, *, size: int | None = None, sha256: str | None = None,
             offline: bool = False, timeout: float = 30.0, attempts: int = 3, progress: bool = True,
             hint: str | None = None, redirect_origins: tuple[str, ...] = ()) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming a ``.part`` file and checking the result.

    Args:
        url: an http:// or https:// URL (redirects are followed within its origin).
        dest: the final path; its folder is created.
        size: expected size in bytes, or ``None`` when unknown.
        sha256: expected sha256 (lowercase hex), or ``None`` when unknown.
        offline: refuse to touch the network (raises at once).
        timeout: seconds a connection or a read may stall.
        attempts: connection attempts; each one after the first resumes where the last stopped.
        progress: show a progress bar on stderr.
        hint: how to get the file by other means; added to the offline and failure messages.
        redirect_origins: other origins (``https://host``) a redirect may lead to.

    Returns:
        The checked file.

    Raises:
        DownloadError: offline mode, an HTTP error, a refused redirect, an HTML page, a
            host name that does not resolve (DNS), too many interruptions (what arrived stays in the
            ``.part`` file for a later resume; an empty one is deleted), or a size/sha256 mismatch
            (the ``.part`` file is deleted).
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    how = f" {hint}" if hint else ""
    if offline:
        raise DownloadError(f"offline mode forbids downloading {dest.name}.{how or f' Get it from {url}.'}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    resumed_from = part.stat().st_size if part.exists() else 0
    for attempt in range(1, attempts + 1):
        try:
            _transfer(url, part, size=size, timeout=timeout, progress=progress,
                      redirects=_CheckedRedirects(url, redirect_origins))
            break
        except DownloadError as err:  # not worth retrying (an HTTP error, a refused redirect, a DNS failure)
            raise DownloadError(f"{err}.{how}" if how else str(err)) from err
        except _Interrupted as err:
            if attempt == attempts:
                kept = part.stat().st_size if part.exists() else 0
                if not kept:
                    part.unlink(missing_ok=True)
                    raise DownloadError(f"downloading {url} failed {attempts} time(s) ({err}); nothing was "
                                        f"downloaded.{how}") from err
                raise DownloadError(f"downloading {url} was interrupted {attempts} time(s) ({err}); "
                                    f"{kept} bytes are kept in {part} and the next fetch resumes "
                                    f"from there.{how}") from err
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink()
        raise DownloadError(f"{url} gave {got_size} bytes, expected {size}; the download "
                            f"was deleted. The file may have changed upstream: check the URL.{how}")
    got_sha = sha256_of(part)
    if sha256 is not None and got_sha != sha256:
        part.unlink()
        raise DownloadError(f"{url} has sha256 {got_sha}, expected {sha256}; the download was deleted. "
                            f"The file was corrupted in transit or changed upstream.{how}")
    os.replace(part, dest)
    return DownloadResult(path=dest, size=got_size, sha256=got_sha, resumed_from=resumed_from)


def _transfer(url: str, part: Path, *, size: int | None, timeout: float, progress: bool,
              redirects: _CheckedRedirects) -> None:
    """One connection: append the missing bytes of ``url`` to ``part``.

    Raises:
        _Interrupted: the connection failed or ended before the announced length.
        DownloadError: an HTTP error status, a refused redirect, an HTML page, or more bytes than ``size``.
    """
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return  # complete from an earlier call; the checks follow
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.build_opener(redirects).open(request, timeout=timeout)
    except DownloadError:
        raise  # a refused redirect: no retry (DownloadError is an OSError)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return  # nothing left to send: the part is complete (or wrong, which the checks catch)
        if err.code >= 500:
            raise _Interrupted(f"HTTP {err.code} {err.reason}") from err
        raise DownloadError(f"{url} answered HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, socket.gaierror):  # no retry: a name that does not resolve stays so
            raise DownloadError(f"cannot reach {urlsplit(url).hostname}: the name does not resolve (DNS lookup "
                                f"failed: {reason.strerror or reason}); this machine has no network or no name "
                                f"service") from err
        raise _Interrupted(f"cannot connect: {reason}") from err
    with response:
        if response.headers.get_content_type() == "text/html":
            raise DownloadError(f"{response.url} answered with an HTML page (Content-Type text/html), not "
                                f"the file: the URL may have moved or need a login; nothing was kept")
        if response.status == 206:
            if _range_start(response.headers.get("Content-Range")) != offset:
                part.unlink()
                raise _Interrupted(f"asked for bytes from {offset}, got "
                                   f"{response.headers.get('Content-Range')!r}; starting over")
            mode = "ab"
        else:  # the server ignored the Range request: start over
            mode, offset = "wb", 0
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length is not None else size
        _copy(response, part, mode=mode, offset=offset, expected=expected, limit=size,
              label=part.name.removesuffix(".part"), progress=progress)


def _copy(response: http.client.HTTPResponse, part: Path, *, mode: str, offset: int,
          expected: int | None, limit: int | None, label: str, progress: bool) -> None:
    """Stream the body into ``part`` with a progress bar; raise _Interrupted when it stops early."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    if limit is not None and expected is not None and expected > limit:
        raise DownloadError(f"{response.url} announces {expected} bytes for {label}, expected {limit}; "
                            f"nothing more was downloaded")
    done, overflow = offset, False
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not progress, transient=True) as bar, \
            part.open(mode) as out:
        task = bar.add_task(label, total=expected, completed=done)
        try:
            for block in iter(lambda: response.read(_CHUNK), b""):
                done += len(block)
                if limit is not None and done > limit:
                    overflow = True
                    break
                out.write(block)
                bar.update(task, completed=done)
        except (OSError, http.client.HTTPException) as err:
            raise _Interrupted(f"connection lost after {done} bytes: {err}") from err
    if overflow:
        part.unlink()
        raise DownloadError(f"{response.url} sends more than the {limit} bytes expected for {label}; "
                            f"the download was deleted")
    if expected is not None and done < expected:
        raise _Interrupted(f"connection closed after {done} of {expected} bytes")


def _range_start(content_range: str | None) -> int | None:
    """The first byte of a ``Content-Range: bytes START-END/TOTAL`` header."""
    match = re.match(r"bytes (\d+)-", content_range or "")
    return int(match.group(1)) if match else None
