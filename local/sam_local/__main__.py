"""``make sam-local``: template.yaml under ``sam local start-api``, with everything it needs started
(``api.start_api``: Docker, the stand-in Lambda image, Redis, keys, sample services, the --env-vars
file). Ctrl-C stops all of it."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from bakery_local.cli import state_dir
from bakery_local.sam_local.api import SamLocalOptions, start_api
from bakery_local.sam_local.docker_daemon import DockerUnavailableError
from bakery_local.sam_local.lambda_image import ImageBuildError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bakery_local.sam_local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--cold-containers",
        action="store_true",
        help="a new container for every request (concurrent, but seconds each) instead of one warm "
        "container per function (one request at a time)",
    )
    parser.add_argument("--no-build", action="store_true", help="run the last `sam build` as it is")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable template.yaml declares, for every function (e.g. SSE_WAIT_SECONDS=5)",
    )
    arguments = parser.parse_args(argv)
    settings = dict(item.partition("=")[::2] for item in arguments.set)
    options = SamLocalOptions(
        state_dir=state_dir(),
        host=arguments.host,
        port=arguments.port,
        warm_containers=not arguments.cold_containers,
        build=not arguments.no_build,
        settings=settings,
    )
    # Ctrl-C and SIGTERM stop everything, even when started where SIGINT is ignored (in the
    # background of a script): SAM inherits the default handling, and this process raises.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with start_api(options, _say) as api:
            _say("Ctrl-C stops sam local start-api and everything started for it")
            try:
                api.wait()
            except KeyboardInterrupt:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
                _say("Stopping: SAM and its containers, the services, Redis, and Docker if started here")
    except KeyboardInterrupt:
        return 130
    except (DockerUnavailableError, ImageBuildError, RuntimeError) as error:
        _say(f"sam-local: {error}")
        return 1
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
