"""Start and stop real cluster services for the cluster tests (issue 18): SLURM and Ray.

Everything runs inside a private network namespace (``unshare --net``) that has only
the loopback interface, so every daemon is reachable on 127.0.0.1 and nowhere else
(slurmctld/slurmd and Ray bind 0.0.0.0 and cannot be told otherwise). Commands are
run in it with ``nsenter --net=...``. Needs root; the tests skip with the reason
otherwise. Packages are installed when missing (``apt-get install slurm-wlm munge``;
``pip install ray``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel")


def _root_or_skip(what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (network namespace, daemons as root); run `make "
                    "test-cluster` as root")
    for tool in ("unshare", "nsenter", "ip"):
        if not shutil.which(tool):
            pytest.skip(f"{what}: {tool} not found (util-linux / iproute2)")


def ensure_slurm() -> None:
    """Install slurm-wlm and munge with apt-get when missing (skip when impossible)."""
    _root_or_skip("the SLURM test")
    if all(shutil.which(b) for b in SLURM_BINARIES):
        return
    if not shutil.which("apt-get"):
        pytest.skip("SLURM is not installed and apt-get is not available to install slurm-wlm munge")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=900,
                       capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=600",
                        "slurm-wlm", "munge"], check=True, env=env, timeout=1800, capture_output=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        out = getattr(exc, "stderr", b"") or b""
        pytest.fail(f"apt-get install slurm-wlm munge failed: {exc}\n{out.decode()[-2000:]}")
    missing = [b for b in SLURM_BINARIES if not shutil.which(b)]
    if missing:
        pytest.fail(f"after apt-get install slurm-wlm munge, still missing: {missing}")


def ensure_ray() -> None:
    """``pip install ray`` and ``pip install --no-deps hydra-ray-launcher`` when missing.

    ``--no-deps``: hydra-ray-launcher 1.2.2 pins ``cloudpickle<3``, which would downgrade the
    cloudpickle that joblib >= 1.5 needs (>= 3); its local launcher needs only ray.
    """
    import importlib.util

    _root_or_skip("the Ray test")
    for spec, args in (("ray", ["ray>=2.9"]),
                       ("hydra_plugins.hydra_ray_launcher", ["--no-deps", "hydra-ray-launcher>=1.2.2"])):
        if importlib.util.find_spec(spec.split(".")[0]) and (
                "." not in spec or importlib.util.find_spec(spec)):
            continue
        p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args],
                           capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            pytest.fail(f"pip install {' '.join(args)} failed:\n{p.stderr[-2000:]}")


class Namespace:
    """A private network namespace (loopback only), kept alive by a sleeping holder process.

    Besides 127.0.0.1, the loopback device gets the address :attr:`EXTRA`: with no
    non-loopback address at all, glibc's ``getaddrinfo(..., AI_ADDRCONFIG)`` (which
    slurmctld uses) resolves nothing, not even "127.0.0.1". The extra address lives on
    the namespace's own loopback device, so nothing outside the namespace can reach it.
    """

    EXTRA = "10.255.255.1/32"

    def __init__(self) -> None:
        self.holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c",
             f"ip link set lo up && ip addr add {self.EXTRA} dev lo && exec sleep 86400"],
            start_new_session=True)
        self.path = f"/proc/{self.holder.pid}/ns/net"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.run(["ip", "-o", "link", "show", "lo"], check=False).stdout.count("UP"):
                return
            time.sleep(0.05)
        self.close()
        pytest.fail("could not bring up loopback in a new network namespace")

    def cmd(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["nsenter", f"--net={self.path}", *argv]

    def run(self, argv: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
        """Run ``argv`` in the namespace and wait (text output captured)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.cmd(argv), check=check, **kw)

    def popen(self, argv: list[str], **kw) -> subprocess.Popen:
        """Start ``argv`` in the namespace."""
        return subprocess.Popen(self.cmd(argv), **kw)

    def close(self) -> None:
        """Stop the holder (the namespace disappears with its last process)."""
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait(timeout=10)


def _stop_pidfile(pidfile: Path, timeout: float = 15.0) -> None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


#: The test cluster's slurm.conf. ``cred_expire=10``: a requeued job may start again after
#: 10 s instead of SLURM's default 120 s (the job credential lifetime sets that delay).
SLURM_CONF = """\
ClusterName=melbenchtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.sock,cred_expire=10
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
InactiveLimit=0
MinJobAge=600
KillWait=10
OverTimeLimit=0
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


#: ``sacct`` for a cluster without an accounting database. submitit asks
#: ``sacct -o JobID,State,NodeList --parsable2 -j ID...`` for job states; real clusters run
#: slurmdbd (with MySQL), which this one-node test cluster does not. The shim answers from
#: ``scontrol show job`` (slurmctld keeps finished jobs for MinJobAge seconds), so submitit
#: sees FAILED/TIMEOUT states instead of waiting for a result file that never comes.
SACCT_SHIM = """#!{python}
import subprocess, sys
args = sys.argv[1:]
ids = [args[i + 1] for i, a in enumerate(args) if a == "-j"]
print("JobID|State|NodeList")
for jid in ids:
    p = subprocess.run(["scontrol", "-o", "show", "job", jid], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        job = f.get("JobId", jid)
        if f.get("ArrayTaskId") not in (None, "N/A"):
            job = f"{{f['ArrayJobId']}}_{{f['ArrayTaskId']}}"
        print(f"{{job}}|{{f.get('JobState', 'UNKNOWN')}}|{{f.get('NodeList', '')}}")
"""


@contextmanager
def slurm_cluster(root: Path):
    """A single-node SLURM cluster (munged, slurmctld, slurmd) configured in ``root``.

    Yields ``(namespace, env)``: run clients with ``namespace.run``/``popen`` and ``env``
    (it sets ``SLURM_CONF``). Everything is stopped on exit, also after a failure.
    """
    ns = Namespace()
    for d in ("state", "spool", "log", "munge"):
        (root / d).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    (root / "munge").chmod(0o700)
    ctld_port, d_port = _free_ports(2)
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF.format(root=root, ctld_port=ctld_port, d_port=d_port,
                                      cpus=os.cpu_count() or 1))
    bindir = root / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "sacct").write_text(SACCT_SHIM.format(python=sys.executable))
    (bindir / "sacct").chmod(0o755)
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{bindir}:{os.environ.get('PATH', '')}"}
    try:
        ns.run(["munged", "--force", f"--key-file={key}", f"--socket={root}/munge/munge.sock",
                f"--pid-file={root}/munge/munged.pid", f"--log-file={root}/munge/munged.log",
                f"--seed-file={root}/munge/seed"], env=env)
        ns.run(["slurmctld", "-c"], env=env)
        ns.run(["slurmd", "-N", "localhost"], env=env)
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            state = ns.run(["sinfo", "-h", "-o", "%T"], check=False, env=env).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in (root / "log").glob("*.log"))
            pytest.fail(f"SLURM node not idle after 60 s (state {state!r}):\n{logs}")
        yield ns, env
    finally:
        ns.run(["scancel", "--user=root"], check=False, env=env)
        _stop_pidfile(root / "slurmd.pid")
        _stop_pidfile(root / "slurmctld.pid")
        _stop_pidfile(root / "munge" / "munged.pid")
        ns.close()


@contextmanager
def ray_cluster(root: Path, num_cpus: int = 2):
    """A local Ray head (``ray start --head --node-ip-address=127.0.0.1``) in a private namespace.

    Yields ``(namespace, env, address)``; ``ray stop`` on exit (also after a failure).
    """
    ns = Namespace()
    ray = str(Path(sys.executable).with_name("ray"))
    (port,) = _free_ports(1)
    env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}", "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        p = ns.run([ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                    f"--num-cpus={num_cpus}", "--include-dashboard=false",
                    f"--temp-dir={root}/ray", "--disable-usage-stats"], check=False, env=env,
                   timeout=300)
        if p.returncode != 0:
            pytest.fail(f"ray start failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
        yield ns, env, f"127.0.0.1:{port}"
    finally:
        ns.run([ray, "stop", "--force"], check=False, env=env, timeout=120)
        ns.close()
