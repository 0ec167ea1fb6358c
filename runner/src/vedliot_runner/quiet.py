"""Silencing what native libraries print straight to file descriptors 1 and 2 (TensorFlow's
converter, LiteRT's "Created XNNPACK delegate" banner), so the CLI's promise of one clear line
holds. What was captured is shown if the wrapped call fails."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterator


@contextlib.contextmanager
def native_output_captured() -> Iterator[None]:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
    except (OSError, ValueError):  # no real descriptors (some embedding hosts): nothing to silence
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read()[-4000:].decode("utf-8", "replace"))
