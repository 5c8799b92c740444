"""A container's CPU time, CFS throttling and peak memory, read from the host's cgroup files.

Docker puts each container in a cgroup; the kernel accounts there every process of the container
(here: the runtime interface emulator and the function's Python runtime). The files are found from
a process of the container (``/proc/<pid>/cgroup``) and the host's cgroup mounts
(``/proc/self/mountinfo``), for cgroup v1 (the ``cpu`` and ``cpuacct`` controllers mounted together
or apart) and v2 (one unified hierarchy). Read before and after a measurement, the difference is what
the container spent in between, to the nanosecond (v1) or microsecond (v2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
V2 = ""  # the key of the unified hierarchy in a membership map (its /proc/<pid>/cgroup line is "0::<path>")


class CgroupError(Exception):
    """The container's cgroup files cannot be found or read."""


@dataclass(frozen=True, slots=True)
class CpuReading:
    """Cumulative counters of one cgroup; subtract two readings to get what happened in between."""

    usage_ns: int  # CPU time of every process in the group
    periods: int  # CFS periods (100 ms each by default) in which the group had work to run
    throttled_periods: int  # of those, periods in which it used up its quota and was stopped
    throttled_ns: int  # time its runnable tasks spent stopped by the quota

    def __sub__(self, earlier: CpuReading) -> CpuReading:
        return CpuReading(
            self.usage_ns - earlier.usage_ns,
            self.periods - earlier.periods,
            self.throttled_periods - earlier.throttled_periods,
            self.throttled_ns - earlier.throttled_ns,
        )


@dataclass(frozen=True)
class CgroupFiles:
    """Where one cgroup's counters are, and in which unit each is kept."""

    usage: Path  # cpuacct.usage (v1, ns) or cpu.stat's usage_usec (v2)
    cpu_stat: Path  # nr_periods, nr_throttled, throttled_time (v1, ns) / throttled_usec (v2)
    memory_peak: Path  # memory.max_usage_in_bytes (v1) or memory.peak (v2)
    processes: Path  # cgroup.procs: the host pids of the group's processes
    version: int

    def read_cpu(self) -> CpuReading:
        stat = _key_values(self.cpu_stat)
        if self.version == 1:
            usage_ns = int(self.usage.read_text().strip())
            throttled_ns = stat.get("throttled_time", 0)
        else:
            usage_ns = stat["usage_usec"] * 1000
            throttled_ns = stat.get("throttled_usec", 0) * 1000
        return CpuReading(usage_ns, stat.get("nr_periods", 0), stat.get("nr_throttled", 0), throttled_ns)

    def read_memory_peak(self) -> int | None:
        """The group's peak memory use in bytes, or None where the kernel keeps no such counter."""
        try:
            return int(self.memory_peak.read_text().strip())
        except (OSError, ValueError):
            return None

    def pids(self) -> list[int]:
        return [int(line) for line in self.processes.read_text().split()]


def cgroup_files(pid: int, proc: Path = PROC) -> CgroupFiles:
    """The cgroup files of the group ``pid`` belongs to, as this host sees them."""
    try:
        membership = parse_membership((proc / str(pid) / "cgroup").read_text())
        v1_mounts, v2_mount = parse_mounts((proc / "self" / "mountinfo").read_text())
    except OSError as error:
        raise CgroupError(f"cannot read the cgroup of process {pid}: {error}") from error
    if "cpu" in membership and "cpu" in v1_mounts:
        cpu, cpuacct = (_directory(v1_mounts, membership, name) for name in ("cpu", "cpuacct"))
        memory = _directory(v1_mounts, membership, "memory")
        return CgroupFiles(
            usage=cpuacct / "cpuacct.usage",
            cpu_stat=cpu / "cpu.stat",
            memory_peak=memory / "memory.max_usage_in_bytes",
            processes=cpu / "cgroup.procs",
            version=1,
        )
    if V2 in membership and v2_mount is not None:
        group = _directory({V2: v2_mount}, membership, V2)
        return CgroupFiles(
            usage=group / "cpu.stat",
            cpu_stat=group / "cpu.stat",
            memory_peak=group / "memory.peak",
            processes=group / "cgroup.procs",
            version=2,
        )
    raise CgroupError(f"process {pid} is in no cgroup with CPU accounting that this host mounts")


def parse_membership(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup``: each v1 controller's group path, and the v2 group's under ``V2``."""
    groups: dict[str, str] = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if not controllers:
            groups[V2] = path
            continue
        for controller in controllers.split(","):
            groups[controller] = path
    return groups


Mount = tuple[str, Path]  # (the hierarchy's folder that is mounted, where it is mounted)


def parse_mounts(text: str) -> tuple[dict[str, Mount], Mount | None]:
    """``/proc/self/mountinfo``: each v1 controller's mount, and the v2 hierarchy's."""
    v1: dict[str, Mount] = {}
    v2: Mount | None = None
    for line in text.splitlines():
        fields, _, tail = line.partition(" - ")
        root, mount_point = fields.split()[3:5]
        kind, _source, options = [*tail.split(), "", ""][:3]
        if kind == "cgroup2":
            v2 = (root, Path(mount_point))
        elif kind == "cgroup":
            for option in options.split(","):
                if option not in ("rw", "ro") and not option.startswith("name="):
                    v1[option] = (root, Path(mount_point))
    return v1, v2


def _directory(mounts: dict[str, Mount], membership: dict[str, str], controller: str) -> Path:
    root, mount_point = mounts[controller]
    path = membership[controller]
    # A mount of a sub-hierarchy (inside another container) shows the group's path below its root.
    if root != "/" and path.startswith(root):
        path = path[len(root) :]
    return mount_point / path.lstrip("/")


def _key_values(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values
