"""A stand-in for the Lambda Python 3.11 base image, built offline: no registry is reachable here.

``sam local`` runs each function in ``public.ecr.aws/lambda/python:3.11-x86_64`` plus its own runtime
interface emulator. This builds an image of that name from what the machine has:

- a Debian root file system: ``debootstrap --variant=minbase bookworm`` from Debian's mirror, plus
  the shared libraries the interpreter's extension modules link (``DEBIAN_PACKAGES``);
- this machine's Python 3.11 (at least 3.11.3, as Lambda's: an older one changes which dependencies
  ``sam build`` installs), its prefix copied to ``/var/lang`` where Lambda keeps it, without its
  ``site-packages`` and test suite;
- the runtime interface client ``awslambdaric`` and the runtime's ``boto3`` in ``/var/runtime``, whose
  ``bootstrap`` runs ``python3.11 -m awslambdaric "$_HANDLER"`` with the layers (``/opt/python``) on
  the path, as Lambda's own bootstrap does.

Docker keeps images between runs on one machine, so the image is built only when it is missing
(``ensure_image``). It is usable on its own, for anything that runs the functions in a Lambda-like
container: ``python -m bakery_local.sam_local.lambda_image [--force]``. Building needs root
(debootstrap), the Docker daemon, and Debian's mirror and the Python package index.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from bakery_local.sam_local.docker_daemon import docker, docker_client
from bakery_local.sam_local.privileges import as_root, can_run_as_root

IMAGE: Final = "public.ecr.aws/lambda/python:3.11-x86_64"
# Tells a stand-in from AWS's image, and says what is in it.
STAND_IN_LABEL: Final = "org.bakery-ia.lambda-stand-in"
DEBIAN_SUITE: Final = "bookworm"
DEBIAN_MIRROR: Final = "http://deb.debian.org/debian"
# Beyond minbase: what the interpreter's extension modules link (_ssl, _sqlite3, pyexpat, readline,
# _curses), and the CA certificates an HTTPS client may fall back on.
DEBIAN_PACKAGES: Final = (
    "libssl3",
    "libsqlite3-0",
    "libexpat1",
    "libreadline8",
    "libncursesw6",
    "ca-certificates",
)
# /var/runtime of Lambda's image: the runtime interface client, and the boto3 every function can import.
RUNTIME_PACKAGES: Final = ("awslambdaric==4.2.2", "boto3==1.44.18")
MINIMUM_PYTHON: Final = (3, 11, 3)
PYTHON_EXCLUDES: Final = (
    "./lib/python3.11/site-packages/*",  # the machine's own packages; layers bring the functions'
    "./lib/python3.11/test",
    "./lib/python3.11/idlelib",
    "./lib/python3.11/tkinter",
    "./lib/python3.11/turtledemo",
    "./lib/python3.11/ensurepip",
    "./lib/python3.11/lib-dynload/_tkinter*",
    "*.a",  # static libraries, for building an interpreter
)
# As in Lambda's python3.11 image.
ENVIRONMENT: Final = {
    "LANG": "en_US.UTF-8",
    "TZ": ":/etc/localtime",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin",
    "LD_LIBRARY_PATH": ":".join(
        [
            "/var/lang/lib",
            "/lib64",
            "/usr/lib64",
            "/var/runtime",
            "/var/runtime/lib",
            "/var/task",
            "/var/task/lib",
            "/opt/lib",
        ]
    ),
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
}
# Lambda's module search order: the function (/var/task, the working directory: first with -m), the
# layers, then the runtime's own packages.
BOOTSTRAP: Final = """#!/bin/sh
# The stand-in image's runtime: the runtime interface client runs the handler (_HANDLER, from SAM).
layers=/opt/python/lib/python3.11/site-packages:/opt/python
export PYTHONPATH="$layers:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
exec /var/lang/bin/python3.11 -m awslambdaric "$_HANDLER"
"""

Say = Callable[[str], None]


class ImageBuildError(Exception):
    """The stand-in image could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class PythonPrefix:
    """An installed interpreter's prefix, copied whole into the image."""

    path: Path
    version: str


def image_present(image: str = IMAGE) -> bool:
    return docker("image", "inspect", image, "--format", "{{.Id}}").returncode == 0


def stand_in_description(image: str = IMAGE) -> str | None:
    """What a stand-in image of ours holds (its label); None for another image, or none."""
    answer = docker("image", "inspect", image, "--format", f'{{{{index .Config.Labels "{STAND_IN_LABEL}"}}}}')
    return answer.stdout.strip() or None if answer.returncode == 0 else None


def this_python() -> PythonPrefix:
    """The prefix of the interpreter running this (a virtual environment's base interpreter)."""
    version = sys.version_info
    if not ((3, 11) <= version[:2] < (3, 12)) or version[:3] < MINIMUM_PYTHON:
        raise ImageBuildError(
            f"Python {'.'.join(map(str, version[:3]))} runs this; the image needs Python 3.11 at least "
            f"{'.'.join(map(str, MINIMUM_PYTHON))} (Lambda's runtime is python3.11)"
        )
    prefix = Path(sys.base_prefix)
    if prefix == Path("/usr") or not (prefix / "bin" / "python3.11").is_file():
        raise ImageBuildError(
            f"{prefix} is not a self-contained Python 3.11 installation (e.g. pyenv's): the image copies "
            "the whole prefix to /var/lang"
        )
    return PythonPrefix(prefix, ".".join(map(str, version[:3])))


def ensure_image(log_path: Path, say: Say, *, force: bool = False) -> bool:
    """The stand-in image, built when Docker has none of that name (or ``force``); whether it was built."""
    if image_present() and not force:
        say(f"Lambda image: {IMAGE} ({stand_in_description() or 'not a stand-in of ours'})")
        return False
    started = time.monotonic()
    say(f"Lambda image: building the stand-in {IMAGE} (log: {log_path}); once per machine, about a minute")
    build_image(this_python(), log_path)
    say(f"Lambda image: built in {time.monotonic() - started:.0f} s ({stand_in_description()})")
    return True


def build_image(python: PythonPrefix, log_path: Path, *, mirror: str = DEBIAN_MIRROR) -> None:
    """Build and tag ``IMAGE`` (replacing any image of that name); every step's output in ``log_path``."""
    if not can_run_as_root():
        raise ImageBuildError(
            "building the Lambda image needs root (debootstrap): run `sudo make sam-local` once, or "
            "`sudo .venv/bin/python -m bakery_local.sam_local.lambda_image`"
        )
    if shutil.which("debootstrap") is None and not Path("/usr/sbin/debootstrap").is_file():
        raise ImageBuildError("debootstrap is not installed (`make sam-local` installs it)")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bakery-lambda-image-"))
    rootfs, runtime = work / "rootfs", work / "runtime"
    try:
        with log_path.open("w") as log:
            _run(log, "debootstrap", as_root(_debootstrap(rootfs, mirror)))
            _run(
                log,
                "mkdir",
                as_root(["mkdir", "-p", *(str(rootfs / d) for d in ("var/lang", "var/task", "opt"))]),
            )
            _pipe(
                log, "copy Python", _pack(python.path, PYTHON_EXCLUDES), as_root(_unpack(rootfs / "var/lang"))
            )
            _install_runtime(log, python, runtime)
            _pipe(log, "copy /var/runtime", _pack(runtime), as_root(_unpack(rootfs / "var/runtime")))
            label = f"python {python.version}; {', '.join(RUNTIME_PACKAGES)}; debian {DEBIAN_SUITE} minbase"
            _pipe(log, "docker import", as_root(_pack(rootfs)), _docker_import(label))
    finally:
        subprocess.run(as_root(["rm", "-rf", str(work)]), check=False)  # noqa: S603 - our own temporary folder


def _debootstrap(rootfs: Path, mirror: str) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(DEBIAN_PACKAGES)}",
        DEBIAN_SUITE,
        str(rootfs),
        mirror,
    ]


def _install_runtime(log: IO[str], python: PythonPrefix, runtime: Path) -> None:
    """awslambdaric and boto3 for this Python into ``runtime`` (as this user), and the bootstrap."""
    pip = [str(python.path / "bin" / "python3.11"), "-m", "pip", "install", "--quiet", "--no-warn-conflicts"]
    _run(
        log, "pip install", [*pip, "--disable-pip-version-check", "--target", str(runtime), *RUNTIME_PACKAGES]
    )
    bootstrap = runtime / "bootstrap"
    bootstrap.write_text(BOOTSTRAP)
    bootstrap.chmod(0o755)


def _pack(directory: Path, excludes: Sequence[str] = ()) -> list[str]:
    """``tar`` of ``directory``'s contents to stdout, every file owned by root (as in Lambda's image)."""
    return [
        "tar",
        "-C",
        str(directory),
        "--numeric-owner",
        "--owner=0",
        "--group=0",
        *(f"--exclude={pattern}" for pattern in excludes),
        "-c",
        ".",
    ]


def _unpack(directory: Path) -> list[str]:
    return ["sh", "-c", f'mkdir -p "{directory}" && tar -C "{directory}" -x']


def _docker_import(label: str) -> list[str]:
    changes = [f"ENV {name}={value}" for name, value in ENVIRONMENT.items()]
    changes += [
        "WORKDIR /var/task",
        'ENTRYPOINT ["/var/runtime/bootstrap"]',
        f'LABEL {STAND_IN_LABEL}="{label}"',
    ]
    return [docker_client(), "import", *(f"--change={change}" for change in changes), "-", IMAGE]


def _run(log: IO[str], step: str, command: list[str]) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    if done.returncode != 0:
        raise ImageBuildError(f"{step} failed (exit {done.returncode}); see {log.name}")


def _pipe(log: IO[str], step: str, producer: list[str], consumer: list[str]) -> None:
    """``producer | consumer``, both checked."""
    log.write(f"$ {' '.join(producer)} | {' '.join(consumer)}\n")
    log.flush()
    source = subprocess.Popen(producer, stdout=subprocess.PIPE, stderr=log)  # noqa: S603
    sink = subprocess.run(consumer, stdin=source.stdout, stdout=log, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    if source.stdout is not None:
        source.stdout.close()
    if source.wait() != 0 or sink.returncode != 0:
        raise ImageBuildError(f"{step} failed; see {log.name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--force", action="store_true", help="build even when the image exists")
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "bakery-lambda-image.log")
    arguments = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        ensure_image(arguments.log, say, force=arguments.force)
    except ImageBuildError as error:
        say(f"lambda_image: {error}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
