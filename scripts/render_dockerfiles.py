"""Render docker/Dockerfile.<service> (the deployment guide's four files) from docker/Dockerfile.

docker/Dockerfile holds the shared stages (`build`, `base`) and one `FROM base AS <service>` stage per
ECS service or task. A Dockerfile cannot include another, and `FROM` a shared stage of another file
needs a registry, so each guide file is the shared stages plus its own service stage (the last stage,
hence what `docker build -f docker/Dockerfile.api .` builds), written here from the one source.

    python3 scripts/render_dockerfiles.py          # (re)write the four files
    python3 scripts/render_dockerfiles.py --check  # exit 1 if a file differs from what it would write
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCKER_DIR = Path(__file__).resolve().parents[1] / "docker"
SOURCE = DOCKER_DIR / "Dockerfile"
SERVICES = ("api", "scheduler", "worker", "dbinit")
_STAGE = re.compile(r"^FROM base AS (\w+)$", flags=re.MULTILINE)


def split(text: str) -> tuple[str, dict[str, str]]:
    """(the shared stages, {service: its stage}) of docker/Dockerfile; the header comment is dropped."""
    starts = list(_STAGE.finditer(text))
    head = text[: starts[0].start()]
    shared = head[head.index("\nFROM ") + 1 :]
    stages = {}
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        stages[match.group(1)] = text[match.start() : end].rstrip("\n") + "\n"
    return shared, stages


def render(service: str, text: str | None = None) -> str:
    shared, stages = split(SOURCE.read_text() if text is None else text)
    header = (
        f"# healthmon {service} image. GENERATED from docker/Dockerfile by scripts/render_dockerfiles.py:\n"
        "# edit docker/Dockerfile, then run `python3 scripts/render_dockerfiles.py`.\n"
        f"#   docker build -f docker/Dockerfile.{service} -t hm-{service} .\n"
        "# On an ARM machine add --platform linux/amd64 (the ECS task definitions run X86_64).\n\n"
    )
    return header + shared + stages[service]


def main(argv: list[str]) -> int:
    stale = []
    for service in SERVICES:
        path = DOCKER_DIR / f"Dockerfile.{service}"
        wanted = render(service)
        if path.exists() and path.read_text() == wanted:
            continue
        if "--check" in argv:
            stale.append(path.name)
        else:
            path.write_text(wanted)
            print(f"wrote {path.relative_to(DOCKER_DIR.parent)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python3 scripts/render_dockerfiles.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
