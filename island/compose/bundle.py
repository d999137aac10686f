"""``island bundle OUT``: everything an island needs to be installed with no internet.

OUT/wheelhouse/          the island command and its dependencies, as wheels
OUT/images.tar           the island's Docker image (`docker save`)
OUT/docker-compose.yml   the stack, using the saved image (nothing to build or pull)
OUT/README.md            the commands, in order
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from . import images
from .settings import ComposeSettings

Say = Callable[[str], None]

README = """\
# Ödrift island bundle

Installs the island with no internet: nothing here is downloaded.

## The island stack on Docker

```sh
docker load -i images.tar            # the image {image}
docker compose up -d                 # or: docker-compose up -d
```

Then open http://localhost:8080/ (the crisis page; HTTPS on port 8443) and ask the island
resolver: `dig @127.0.0.1 -p 5300 krisinfo.kommun.example`. Stop it with `docker compose down`.
Ports and addresses can be changed in the environment or a `.env` file beside
docker-compose.yml: ISLAND_HTTP_PORT, ISLAND_HTTPS_PORT, ISLAND_DNS_PORT, ISLAND_DOCKER_NET (see the file).

## The island command (scenarios, uplink cuts)

```sh
python3.11 -m venv island-venv
island-venv/bin/pip install --no-index --find-links wheelhouse odrift-island
island-venv/bin/island --help
ISLAND_COMPOSE_FILE=$PWD/docker-compose.yml island-venv/bin/island up --backend compose --detach
```

Without Docker, `island-venv/bin/island up` runs the island as plain processes on loopback.
"""


class BundleError(RuntimeError):
    pass


def offline_compose(source: Path) -> str:
    """The compose file with its build sections taken out (comments kept): the bundle's image is loaded, never built."""
    kept, skip_deeper_than = [], None
    for line in source.read_text(encoding="utf-8").splitlines():
        indent = len(line) - len(line.lstrip())
        if skip_deeper_than is not None:
            if not line.strip() or indent > skip_deeper_than:
                continue
            skip_deeper_than = None
        if line.strip() == "build:":
            skip_deeper_than = indent
            continue
        kept.append(line)
    text = "\n".join(kept) + "\n"
    if _has_build(yaml.safe_load(text)):
        raise BundleError(f"{source}: a build section is left that the bundle cannot take out")
    return "# From an island bundle: run `docker load -i images.tar` first (README.md).\n" + text


def _has_build(data: object) -> bool:
    if isinstance(data, dict):
        return "build" in data or any(_has_build(v) for v in data.values())
    return False


def write_bundle(out: Path, say: Say, with_images: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    root = images.source_root()
    if root is None:
        raise BundleError("a bundle is made from the project's source tree; run island from a checkout")
    settings = ComposeSettings.from_env()
    say(f"Wheelhouse -> {out / 'wheelhouse'}")
    try:
        wheels = images.build_wheelhouse(out / "wheelhouse", root)
    except images.ImageError as exc:
        raise BundleError(str(exc)) from None
    say(f"  {len(wheels)} wheels")
    compose = images.compose_file()
    (out / "docker-compose.yml").write_text(offline_compose(compose), encoding="utf-8")
    (out / "README.md").write_text(README.format(image=settings.image), encoding="utf-8")
    if not with_images:
        say("Images left out (--no-images).")
        return
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise BundleError(
            "no Docker engine answers, so the image cannot be built and saved. Start Docker "
            "(or `sudo docker/ci-engine.sh` on Debian), or make the bundle without it: island bundle OUT --no-images"
        )
    say(f"Building the image {settings.image} on {settings.base_image} ...")
    # The image installs from the same wheelhouse, so the bundle's two halves match.
    images.build_wheelhouse(root / images.WHEELHOUSE, root)
    env = {**os.environ, **settings.env()}
    build = subprocess.run(
        images.compose_argv(images.compose_cli(), compose, settings.project, "build", "upstream"),
        env=env,
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        raise BundleError(images.build_error(build.stdout + build.stderr, settings.base_image))
    subprocess.run(
        ["docker", "image", "prune", "--force", "--filter", "label=org.odrift.island=1"], capture_output=True
    )
    say(f"Saving it -> {out / 'images.tar'}")
    saved = subprocess.run(
        ["docker", "save", "--output", str(out / "images.tar"), settings.image],
        capture_output=True,
        text=True,
    )
    if saved.returncode != 0:
        raise BundleError(f"`docker save` failed: {saved.stderr.strip()}")
