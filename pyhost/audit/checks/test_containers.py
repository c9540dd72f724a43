"""Sections 4 and 5 of the CIS Docker Benchmark: each running container.

Kernel truth wherever it exists: namespaces shared with the host by (device, inode) of
/proc/PID/ns/*, capabilities from CapEff, seccomp and no_new_privs from /proc/PID/status,
AppArmor from attr/current, limits from the cgroup files, mounts and their propagation from
/proc/PID/mountinfo. Docker's config only where the kernel has no answer (published ports,
restart policy, HEALTHCHECK), and as evidence beside the kernel's answer.
"""

from __future__ import annotations

import pytest

from pyhost.audit.facts import ContainerFacts, HostFacts
from pyhost.audit.model import Evidence, check

SENSITIVE = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr")
# bind mounts Docker makes itself (kind "docker": hosts, hostname, resolv.conf) and the
# runtime's own (proc, sys, dev...) are not the user's
USER_KINDS = ("bind", "volume")
WILDCARD = ("", "0.0.0.0", "::")  # noqa: S104 (what the check looks for)


def _kernel(container: ContainerFacts) -> None:
    if not container.running:
        pytest.skip("the container stopped before it could be read")
    if container.raw.get("error"):
        raise RuntimeError(container.raw["error"])


def _ns_check(container: ContainerFacts, evidence: Evidence, kind: str, mode_key: str) -> None:
    _kernel(container)
    shared = container.shared(kind)
    evidence.add(f"{kind} namespace shared with the host (inode compare)", shared)
    evidence.add(f"HostConfig.{mode_key}", container.host_config.get(mode_key) or "''")
    if shared is None:
        raise RuntimeError(f"/proc/{container.raw['pid']}/ns/{kind} could not be compared")
    evidence.require(not shared, f"the container shares the host's {kind} namespace")


@check(
    "5.5",
    "Ensure that privileged containers are not used",
    severity="high",
    rationale="A privileged container has every capability and every device: it is root on "
    "the host.",
    remediation="Run without --privileged; add only the capabilities it needs (--cap-add).",
)
def test_5_5_privileged(container: ContainerFacts, facts: HostFacts, evidence: Evidence) -> None:
    _kernel(container)
    sec = container.security
    cap_eff = int(sec.get("cap_eff") or "0", 16)
    bnd_text = (facts.raw or {}).get("cap_bnd")
    bounding = int(bnd_text, 16) if bnd_text else None
    evidence.add("CapEff", sec.get("cap_eff"))
    evidence.add("host CapBnd", bnd_text)
    evidence.add("HostConfig.Privileged", container.host_config.get("Privileged"))
    # Every capability the host can give, up to the highest one the runtime granted (an
    # engine older than the kernel does not know its newest capabilities, BPF or PERFMON)
    top = (1 << cap_eff.bit_length()) - 1
    every = bool(sec.get("privileged")) or (
        bounding is not None
        and cap_eff >> 21 & 1 == 1
        and cap_eff & bounding & top == bounding & top
    )
    evidence.require(
        not every and not container.host_config.get("Privileged"),
        "privileged: every capability the host has is effective",
    )


@check(
    "5.4",
    "Ensure that Linux kernel capabilities are restricted within containers",
    severity="high",
    rationale="Capabilities beyond Docker's 14 defaults (SYS_ADMIN, NET_ADMIN...) open "
    "ways out of the container.",
    remediation="Drop what is not needed (--cap-drop ALL, then --cap-add only the few).",
)
def test_5_4_capabilities(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    added = container.security.get("caps_added") or []
    evidence.add("CapEff", container.security.get("cap_eff"))
    evidence.add("beyond Docker's default 14", ", ".join(added) or "none")
    evidence.add("HostConfig.CapAdd", container.host_config.get("CapAdd"))
    shown = ", ".join(added[:8]) + (f" and {len(added) - 8} more" if len(added) > 8 else "")
    evidence.require(not added, f"capabilities beyond Docker's default: {shown}")


@check(
    "5.10",
    "Ensure that the host's network namespace is not shared",
    severity="high",
    rationale="With the host's network the container sees every interface and can bind any "
    "host port, and services on localhost are open to it.",
    remediation="Do not use --network host.",
)
def test_5_10_host_net(container: ContainerFacts, evidence: Evidence) -> None:
    _ns_check(container, evidence, "net", "NetworkMode")


@check(
    "5.16",
    "Ensure that the host's process namespace is not shared",
    severity="high",
    rationale="With the host's pid namespace the container sees and can signal every "
    "process on the host.",
    remediation="Do not use --pid host.",
)
def test_5_16_host_pid(container: ContainerFacts, evidence: Evidence) -> None:
    _ns_check(container, evidence, "pid", "PidMode")


@check(
    "5.17",
    "Ensure that the host's IPC namespace is not shared",
    severity="high",
    rationale="Shared IPC exposes the host's shared memory and semaphores.",
    remediation="Do not use --ipc host.",
)
def test_5_17_host_ipc(container: ContainerFacts, evidence: Evidence) -> None:
    _ns_check(container, evidence, "ipc", "IpcMode")


@check(
    "5.21",
    "Ensure that the host's UTS namespace is not shared",
    severity="medium",
    rationale="With the host's UTS namespace the container can change the host's name.",
    remediation="Do not use --uts host.",
)
def test_5_21_host_uts(container: ContainerFacts, evidence: Evidence) -> None:
    _ns_check(container, evidence, "uts", "UTSMode")


@check(
    "5.31",
    "Ensure that the host's user namespaces are not shared",
    severity="medium",
    rationale="Where user namespaces are in use, --userns host gives a container the host's "
    "root again.",
    remediation="Do not use --userns host.",
)
def test_5_31_host_user(container: ContainerFacts, facts: HostFacts, evidence: Evidence) -> None:
    _kernel(container)
    shared = container.shared("user")
    evidence.add("user namespace shared with the host (inode compare)", shared)
    evidence.add("uid_map", container.security.get("uid_map"))
    if shared and not (facts.userns_remap or facts.rootless):
        pytest.skip("the daemon uses no user namespaces (see 2.9): every container shares it")
    evidence.require(not shared, "the container shares the host's user namespace")


@check(
    "5.32",
    "Ensure that the Docker socket is not mounted inside any containers",
    severity="high",
    rationale="The Docker socket inside a container is root on the host.",
    remediation="Do not bind-mount docker.sock (or the directory that holds it).",
)
def test_5_32_docker_sock(container: ContainerFacts, facts: HostFacts, evidence: Evidence) -> None:
    _kernel(container)
    sockets = set((facts.raw or {}).get("sockets") or [])
    socket_dirs = {s.rsplit("/", 1)[0] for s in sockets} | {"/run", "/var/run"}
    found = []
    for m in container.mounts:
        path = m.get("host_path") or ""
        if m.get("destination", "").endswith("/docker.sock") or path.endswith("/docker.sock"):
            found.append(f"{path or m.get('source')} at {m['destination']}")
        elif m.get("kind") in USER_KINDS and path in socket_dirs:
            found.append(f"{path} (holds the socket) at {m['destination']}")
    evidence.add("mountinfo", "; ".join(found) or "no docker.sock")
    evidence.require(
        not found and not container.security.get("docker_sock"),
        f"the Docker socket is mounted: {'; '.join(found)}",
    )


@check(
    "5.6",
    "Ensure sensitive host system directories are not mounted read-write in containers",
    severity="high",
    rationale="Writing to the host's /etc, /usr, /boot... changes the host itself.",
    remediation="Mount what is needed read-only (:ro), or not at all.",
)
def test_5_6_sensitive_dirs(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    found = []
    for m in container.mounts:
        path = m.get("host_path")
        if m.get("kind") not in USER_KINDS or not path or m.get("readonly"):
            continue
        # the directory itself or inside it, compared by path components (not by
        # pattern: /devices or /etcetera are not /dev or /etc)
        if any(path == d or (d != "/" and path.startswith(d + "/")) for d in SENSITIVE):
            found.append(f"{path} -> {m['destination']} (rw)")
    evidence.add("read-write mounts of host system directories", "; ".join(found) or "none")
    evidence.require(not found, f"host system directories mounted read-write: {'; '.join(found)}")


@check(
    "5.20",
    "Ensure that the mount propagation mode is not set to shared",
    severity="medium",
    rationale="Shared propagation lets mounts made inside the container appear on the host.",
    remediation="Use private or slave propagation (drop :shared / :rshared).",
)
def test_5_20_propagation(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    shared = [
        m["destination"]
        for m in container.mounts
        if m.get("kind") in USER_KINDS and m.get("propagation") == "shared"
    ]
    evidence.add("mounts with shared propagation (mountinfo)", ", ".join(shared) or "none")
    evidence.require(not shared, f"shared propagation: {', '.join(shared)}")


@check(
    "5.22",
    "Ensure the default seccomp profile is not disabled",
    severity="high",
    rationale="Without seccomp every system call is open, including those that break isolation.",
    remediation="Remove --security-opt seccomp=unconfined.",
)
def test_5_22_seccomp(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    mode = container.security.get("seccomp")
    evidence.add("Seccomp (/proc/PID/status)", mode)
    evidence.add("filters", container.security.get("seccomp_filters"))
    evidence.require(mode == "filter", f"no seccomp filter (Seccomp: {mode or 'disabled'})")


@check(
    "5.2",
    "Ensure that, if applicable, an AppArmor Profile is enabled",
    severity="high",
    rationale="AppArmor confines what a container may touch even as root.",
    remediation="Remove --security-opt apparmor=unconfined; use docker-default or your own.",
)
def test_5_2_apparmor(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    label = container.security.get("apparmor")
    evidence.add("AppArmor label (/proc/PID/attr/current)", label)
    if label is None:
        pytest.skip("AppArmor is not enabled on this host")
    evidence.require(not str(label).startswith("unconfined"), f"AppArmor: {label}")


@check(
    "5.26",
    "Ensure that the container is restricted from acquiring additional privileges",
    severity="medium",
    rationale="Without no_new_privs, setuid binaries raise privileges inside the container.",
    remediation="--security-opt no-new-privileges (or daemon-wide, see 2.14).",
)
def test_5_26_no_new_privs(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    value = container.security.get("no_new_privs")
    evidence.add("NoNewPrivs (/proc/PID/status)", value)
    evidence.require(value is True, "no_new_privs is not set")


@check(
    "5.11",
    "Ensure that the memory usage for containers is limited",
    severity="medium",
    rationale="One container without a limit can take all the host's memory.",
    remediation="--memory (and --memory-swap).",
)
def test_5_11_memory(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    mem = container.limits.get("memory") or {}
    evidence.add(f"memory limit (cgroup v{container.limits.get('version')})", mem.get("limit"))
    evidence.require(mem.get("limit") is not None, "no memory limit in the cgroup")


@check(
    "5.12",
    "Ensure that CPU priority is set appropriately on containers",
    severity="medium",
    rationale="Without a CPU quota or weight one container can starve the others.",
    remediation="--cpus (a quota) or --cpu-shares.",
)
def test_5_12_cpu(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    cpu = container.limits.get("cpu") or {}
    evidence.add("cpu quota", cpu.get("quota"))
    evidence.add("cpu shares/weight", cpu.get("shares", cpu.get("weight")))
    default = cpu.get("shares") in (None, 1024) and cpu.get("weight") in (None, 100)
    evidence.require(
        cpu.get("quota") is not None or not default, "no CPU quota and the default weight"
    )


@check(
    "5.29",
    "Ensure that the PIDs cgroup limit is used",
    severity="medium",
    rationale="Without a pids limit a fork bomb in one container takes down the host.",
    remediation="--pids-limit 200 (or what the service needs).",
)
def test_5_29_pids(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    pids = container.limits.get("pids") or {}
    evidence.add("pids.max", pids.get("limit"))
    evidence.require(pids.get("limit") is not None, "no pids limit in the cgroup")


@check(
    "5.13",
    "Ensure that the container's root filesystem is mounted as read only",
    severity="low",
    rationale="A read-only root keeps an intruder from changing the container's programs.",
    remediation="--read-only, with volumes or tmpfs where it must write.",
)
def test_5_13_readonly_rootfs(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    value = container.security.get("readonly_rootfs")
    evidence.add("/ read-only (mountinfo)", value)
    evidence.require(value is True, "the root filesystem is writable")


@check(
    "4.1",
    "Ensure that a user for the container has been created (it does not run as root)",
    severity="medium",
    rationale="A process running as root in the container is root on the host when it "
    "escapes (without user namespaces).",
    remediation="USER in the Dockerfile, or --user.",
)
def test_4_1_not_root(container: ContainerFacts, evidence: Evidence) -> None:
    _kernel(container)
    ids = container.kernel.get("ids") or {}
    uid_map = container.security.get("uid_map") or []
    evidence.add("Config.User", (container.config.get("Config") or {}).get("User") or "''")
    evidence.add("effective uid on the host (/proc/PID/status)", ids.get("uid"))
    evidence.add("uid_map", uid_map)
    evidence.require(ids.get("uid") != 0, "the container's main process runs as root (uid 0)")


@check(
    "4.6",
    "Ensure that HEALTHCHECK instructions have been added to container images",
    severity="low",
    rationale="Without a health check, a hung service looks healthy to Docker and to "
    "orchestrators.",
    remediation="HEALTHCHECK in the Dockerfile, or --health-cmd.",
)
def test_4_6_healthcheck(container: ContainerFacts, evidence: Evidence) -> None:
    health = (container.config.get("Config") or {}).get("Healthcheck") or {}
    test = health.get("Test") or []
    evidence.add("Config.Healthcheck.Test", test or "none")
    evidence.require(test and test[0] != "NONE", "no HEALTHCHECK")


@check(
    "5.8",
    "Ensure privileged ports are not mapped within containers",
    severity="medium",
    rationale="Ports below 1024 are reserved for the host's own services.",
    remediation="Publish on a port of 1024 or more.",
)
def test_5_8_privileged_ports(container: ContainerFacts, evidence: Evidence) -> None:
    ports = container.ports()
    evidence.add("published", ", ".join(f"{ip or '*'}:{hp}->{c}" for c, ip, hp in ports) or "none")
    low = [f"{hp}->{c}" for c, _, hp in ports if hp.isdigit() and 0 < int(hp) < 1024]
    evidence.require(not low, f"privileged host ports: {', '.join(low)}")


@check(
    "5.14",
    "Ensure that incoming container traffic is bound to a specific host interface",
    severity="medium",
    rationale="A port published on 0.0.0.0 is open on every interface, public ones included.",
    remediation="Publish on one address: -p 127.0.0.1:8080:80.",
)
def test_5_14_bound_interface(container: ContainerFacts, evidence: Evidence) -> None:
    ports = container.ports()
    evidence.add("published", ", ".join(f"{ip or '*'}:{hp}->{c}" for c, ip, hp in ports) or "none")
    wild = [f"{ip or '*'}:{hp}" for _, ip, hp in ports if ip in WILDCARD]
    evidence.require(not wild, f"published on every interface: {', '.join(wild)}")


@check(
    "5.15",
    "Ensure that the 'on-failure' container restart policy is set to '5'",
    severity="low",
    rationale="Endless restarts of a failing container can exhaust the host.",
    remediation="--restart on-failure:5 (or no restart policy).",
)
def test_5_15_restart_policy(container: ContainerFacts, evidence: Evidence) -> None:
    policy = container.host_config.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    retries = int(policy.get("MaximumRetryCount") or 0)
    evidence.add("RestartPolicy", f"{name}:{retries}" if name == "on-failure" else name)
    if name in ("", "no"):
        return
    evidence.require(
        name == "on-failure" and 0 < retries <= 5,
        f"restart policy {name}" + (f":{retries}" if name == "on-failure" else ""),
    )
