"""The container image builds and passes its smoke test (manual: SSBMECH_CONTAINER_TESTS=1).

Skipped by default: the build takes minutes (see containers/README.md for the command and
its measured runtime) and needs podman, buildah and debootstrap.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(
        os.environ.get("SSBMECH_CONTAINER_TESTS") != "1",
        reason="container build + smoke test: set SSBMECH_CONTAINER_TESTS=1 (minutes)",
    ),
]

IMAGE = os.environ.get("SSBMECH_IMAGE", "localhost/ssbmech:test")


def test_image_builds_and_passes_smoke_test() -> None:
    for script in ("build.sh", "smoke_test.sh"):
        res = subprocess.run(
            ["bash", str(ROOT / "containers" / script), IMAGE],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=1800,
        )
        assert res.returncode == 0, f"{script} failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    assert "smoke: all checks passed" in res.stdout
