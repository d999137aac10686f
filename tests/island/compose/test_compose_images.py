"""What the host says when the island image does not build."""

from __future__ import annotations

from pathlib import Path

from island.compose.images import build_error


def test_a_base_image_that_cannot_be_pulled_points_to_the_local_one() -> None:
    output = 'Step 2/13 : FROM ${BASE_IMAGE}\nGet "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
    message = build_error(output, "python:3.11-slim", Path("/tmp/build.log"))
    assert message.startswith("building the island image failed (whole output: /tmp/build.log)")
    assert "The base image python:3.11-slim could not be pulled" in message
    assert "ISLAND_BASE_IMAGE=odrift-base:bookworm-pebble" in message
    assert "could not be pulled" not in build_error(
        "Step 9/13 : RUN pip install\nERROR: No matching distribution", "x"
    )
