"""The ffmpeg binary the services share, and one way to run it to completion under a time limit.

Every service that runs ffmpeg uses the static build of the imageio-ffmpeg wheel unless configured
otherwise (:func:`default_ffmpeg`). :func:`run_to_end` runs one command whose output goes to files and
whose log is wanted whole; a process that streams its output (the frames decoder) manages its own pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass


def default_ffmpeg() -> str:
    """The static ffmpeg of the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class Finished:
    """A process that ran to its end."""

    returncode: int
    stderr: str


async def run_to_end(command: Sequence[str], *, timeout_s: float) -> Finished:
    """Run ``command`` (stdin and stdout closed) and return its exit status and stderr.

    The process is killed and reaped before this returns or raises: at the time limit (``TimeoutError``),
    when the caller is cancelled, or on any other error. ``OSError`` when it cannot be started.
    """
    process: asyncio.subprocess.Process | None = None
    try:
        async with asyncio.timeout(timeout_s):
            # Inside the limit on purpose: cancelled while starting, asyncio kills the child it forked.
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, stderr = await process.communicate()
    finally:
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            # Reap it and drain its pipe even if the caller is cancelled again meanwhile: it is dead, so
            # this takes no longer than the pipe buffer holds.
            await asyncio.shield(process.communicate())
    assert process.returncode is not None
    return Finished(process.returncode, stderr.decode(errors="replace"))
