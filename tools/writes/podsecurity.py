"""What apply_yaml refuses in a pod template: the Pod Security Standards' *baseline* profile,
plus privilege escalation and every added capability but NET_BIND_SERVICE.

Checked in every pod template a manifest carries (Deployments, StatefulSets and Jobs:
``spec.template``; CronJobs: ``spec.jobTemplate.spec.template``), at pod level and in every
container, init container and ephemeral container:

- Windows host processes (``windowsOptions.hostProcess: true``);
- the host's namespaces (``hostNetwork``, ``hostPID``, ``hostIPC``: true) — ``hostUsers`` is
  allowed either way (``false`` gives the pod its own user namespace: *more* isolation);
- ``privileged: true``, ``allowPrivilegeEscalation: true``, added capabilities other than
  :data:`SAFE_CAPABILITIES`;
- ``hostPath`` volumes and ``hostPort`` on any port;
- ``procMount`` other than ``Default``;
- seccomp and AppArmor profiles other than ``RuntimeDefault`` / ``Localhost`` (``Unconfined``),
  in fields or in the legacy annotations;
- SELinux types outside the container types, or a custom SELinux user or role;
- sysctls outside the baseline's safe set.

Running as root (``runAsUser: 0``) is not refused: the docs do not promise it, and images that
need it are common.  Shapes are checked first (:mod:`tools.writes.manifest`), so every field
read here has the type expected.
"""

from __future__ import annotations

from typing import Any

SAFE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SAFE_PROFILES = frozenset({"RuntimeDefault", "Localhost"})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t",
                           "container_engine_t"})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes"})
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_SECCOMP_ANNOTATIONS = ("seccomp.security.alpha.kubernetes.io/pod",
                        "container.seccomp.security.alpha.kubernetes.io/")


def _security(context: dict[str, Any], who: str) -> list[str]:
    """Problems of one securityContext (pod's or container's)."""
    problems = []
    if (context.get("windowsOptions") or {}).get("hostProcess"):
        problems.append(f"{who} is a Windows hostProcess")
    if context.get("privileged"):
        problems.append(f"privileged {who}")
    if context.get("allowPrivilegeEscalation"):
        problems.append(f"{who} allows privilege escalation")
    added = set((context.get("capabilities") or {}).get("add") or []) - SAFE_CAPABILITIES
    if added:
        problems.append(f"{who} adds capabilities {sorted(added)}")
    if context.get("procMount") not in (None, "Default"):
        problems.append(f"{who} has procMount {context['procMount']}")
    for key in ("seccompProfile", "appArmorProfile"):
        kind = (context.get(key) or {}).get("type")
        if kind is not None and kind not in SAFE_PROFILES:
            problems.append(f"{who} has {key} {kind}")
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or \
            selinux.get("role"):
        problems.append(f"{who} sets SELinux options {selinux}")
    unsafe = [s.get("name") for s in context.get("sysctls") or [] if s.get("name")
              not in SAFE_SYSCTLS]
    if unsafe:
        problems.append(f"{who} sets unsafe sysctls {unsafe}")
    return problems


def _annotations(annotations: dict[str, str]) -> list[str]:
    problems = []
    for key, value in annotations.items():
        if key.startswith(_APPARMOR_ANNOTATION) and value != "runtime/default" \
                and not value.startswith("localhost/"):
            problems.append(f"annotation {key}: {value}")
        if key.startswith(_SECCOMP_ANNOTATIONS) and value not in ("runtime/default",
                                                                   "docker/default") \
                and not value.startswith("localhost/"):
            problems.append(f"annotation {key}: {value}")
    return problems


def problems(template: dict[str, Any]) -> list[str]:
    """Everything privileged about one pod template (``{metadata, spec}``)."""
    pod = template.get("spec") or {}
    found = _annotations((template.get("metadata") or {}).get("annotations") or {})
    found += [f"{key}: true" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    found += [f"hostPath volume {v.get('name')!r}" for v in pod.get("volumes") or []
              if "hostPath" in v]
    found += _security(pod.get("securityContext") or {}, "the pod")
    for key in CONTAINER_LISTS:
        for c in pod.get(key) or []:
            label = "container" if key == "containers" else key[:-1]
            who = f"{label} {c.get('name')!r}"
            found += _security(c.get("securityContext") or {}, who)
            found += [f"{who} uses hostPort {p['hostPort']}" for p in c.get("ports") or []
                      if p.get("hostPort")]
    return found
