"""Static checks of the deployment files; no Docker engine or cluster needed.

    .venv/bin/python deploy/check.py

- compose.yaml: `${VAR}` interpolation, `depends_on` targets and conditions,
  volumes, ports, every roomcast service's environment against its settings
  class, and its healthcheck on `/readyz` at its `ROOMCAST_HEALTH_PORT`.
- every `ROOMCAST_*` variable a manifest sets (compose environment, ConfigMaps,
  container env) is a real setting of some process;
- deploy/k8s: every kustomization lists exactly the files of its directory; with
  `kubectl` on PATH, each kustomization is built and the output checked: every
  object against the Kubernetes API schema (`kubernetes-validate`, offline, unknown
  fields refused; operators' CRDs skipped), Secret,
  ConfigMap and port references resolve, Service selectors match pods, every pod
  meets the `restricted` Pod Security profile with a read-only root filesystem,
  every service container probes `/healthz` (startup, liveness) and `/readyz`
  (readiness) on its health listener (`ROOMCAST_HEALTH_PORT` on 0.0.0.0), and
  (for overlays, which carry the Secret) every roomcast container's environment
  loads with its settings class.

Exits 1 and lists the problems if any check fails.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from roomcast import registry

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
SETTINGS = {s.name: s.settings for s in registry.SERVICES}
SETTINGS["migrate"] = "roomcast.platform.settings:CommonSettings"
SERVICES = registry.names()
"""Long-running processes: each serves /healthz, /readyz and /metrics."""
PROBE_PATHS = {
    "startupProbe": registry.LIVE_PATH,
    "livenessProbe": registry.LIVE_PATH,
    "readinessProbe": registry.READY_PATH,
}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")

problems: list[str] = []


def fail(message: str) -> None:
    problems.append(message)


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def check_settings(where: str, command: str, env: dict[str, str]) -> None:
    """Load the settings class `command` runs with, from `env` alone."""
    from importlib import import_module

    from pydantic import ValidationError

    module, _, name = SETTINGS[command].partition(":")
    cls = getattr(import_module(module), name)
    with environment(env):
        try:
            cls()
        except ValidationError as exc:
            fail(f"{where}: {command} settings invalid: {exc}")


def known_variables() -> set[str]:
    """Every `ROOMCAST_*` variable some process reads as a setting."""
    from importlib import import_module

    from roomcast.platform.settings import ENV_PREFIX

    names: set[str] = set()
    for path in set(SETTINGS.values()):
        module, _, name = path.partition(":")
        cls = getattr(import_module(module), name)
        names |= {f"{ENV_PREFIX}{field.upper()}" for field in cls.model_fields}
    return names


def check_variables(where: str, names: Any) -> None:
    """Every `ROOMCAST_*` variable a manifest sets is a real setting (a typo is ignored
    by the settings classes, so it would silently not apply)."""
    known = known_variables()
    for name in names:
        if str(name).startswith("ROOMCAST_") and name not in known:
            fail(f"{where}: {name} is not a roomcast setting")


# --- compose ---------------------------------------------------------------------


def interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.groups()
        current = env.get(name, "")
        if op and op.endswith("?") and not current:
            raise ValueError(f"{name}: {arg}")
        return current or (arg if op and op.endswith("-") else "")

    return INTERPOLATION.sub(replace, value)


def check_compose() -> None:
    path = ROOT / "compose.yaml"
    raw = yaml.safe_load(path.read_text())
    try:
        interpolate(raw, {})
        fail("compose.yaml: starts without ROOMCAST_JWT_SECRET")
    except ValueError:
        pass
    doc = interpolate(raw, {"ROOMCAST_JWT_SECRET": "s" * 32})
    services: dict[str, Any] = doc["services"]
    host_ports: list[str] = []
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            condition = spec["condition"] if isinstance(spec, dict) else "service_started"
            if dep not in services:
                fail(f"compose {name}: depends on unknown {dep}")
            elif condition == "service_healthy" and "healthcheck" not in services[dep]:
                fail(f"compose {name}: waits for {dep} to be healthy; it has no healthcheck")
            elif condition == "service_completed_successfully" and services[dep].get(
                "restart"
            ) not in (None, "no"):
                fail(f"compose {name}: waits for {dep} to complete; it restarts")
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                if not (ROOT / source).exists():
                    fail(f"compose {name}: bind mount {source} does not exist")
            elif source not in (doc.get("volumes") or {}):
                fail(f"compose {name}: volume {source} is not declared")
        if "build" in svc and not (ROOT / svc["build"]["dockerfile"]).exists():
            fail(f"compose {name}: no {svc['build']['dockerfile']}")
        host_ports += [str(p).rsplit(":", 1)[0] for p in svc.get("ports", [])]
        check_variables(f"compose {name}", svc.get("environment") or {})
        command = (svc.get("command") or [""])[0]
        if "build" in svc and command in SETTINGS:
            env = {k: "" if v is None else str(v) for k, v in svc["environment"].items()}
            check_settings(f"compose {name}", command, env)
            if command in SERVICES:
                check_compose_health(name, svc, env)
    if len(set(host_ports)) != len(host_ports):
        fail(f"compose: host ports published twice: {host_ports}")


def check_compose_health(name: str, svc: dict[str, Any], env: dict[str, str]) -> None:
    """The healthcheck asks the service's own health listener for `/readyz`."""
    port = env.get("ROOMCAST_HEALTH_PORT", "")
    test = " ".join(str(part) for part in (svc.get("healthcheck") or {}).get("test", []))
    if not port.isdigit() or port == "0":
        fail(f"compose {name}: ROOMCAST_HEALTH_PORT must be a fixed port, not {port!r}")
    elif f":{port}/readyz" not in test:
        fail(f"compose {name}: the healthcheck does not ask :{port}/readyz")


# --- kustomize -------------------------------------------------------------------


def check_kustomization_files(kfile: Path) -> None:
    spec = yaml.safe_load(kfile.read_text())
    here = kfile.parent
    listed = set()
    for entry in spec.get("resources", []):
        target = (here / entry).resolve()
        if not target.exists():
            fail(f"{kfile.relative_to(ROOT)}: resource {entry} does not exist")
        listed.add(target)
    for patch in spec.get("patches", []):
        if "path" in patch:
            target = (here / patch["path"]).resolve()
            if not target.exists():
                fail(f"{kfile.relative_to(ROOT)}: patch {patch['path']} does not exist")
            listed.add(target)
    for generator in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
        for entry in generator.get("files", []) + generator.get("envs", []):
            source = here / entry.split("=", 1)[-1]
            if not source.exists():
                fail(f"{kfile.relative_to(ROOT)}: generator file {source.name} does not exist")
            listed.add(source.resolve())
    for file in sorted(here.iterdir()):
        if file.is_file() and file.name != "kustomization.yaml" and file.resolve() not in listed:
            fail(f"{kfile.relative_to(ROOT)}: {file.name} is not listed")


def pods(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        spec = obj.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
        if template:
            yield f"{obj['kind']}/{obj['metadata']['name']}", template


def check_restricted(where: str, pod: dict[str, Any]) -> None:
    spec = pod["spec"]
    pod_sc = spec.get("securityContext", {})
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c.get("securityContext", {})
        at = f"{where} {c['name']}"
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            fail(f"{at}: runAsNonRoot is not set")
        seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            fail(f"{at}: no RuntimeDefault seccomp profile")
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(f"{at}: allowPrivilegeEscalation is not false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            fail(f"{at}: capabilities are not dropped")
        if sc.get("readOnlyRootFilesystem") is not True:
            fail(f"{at}: root filesystem is writable")
        if "memory" not in c.get("resources", {}).get("limits", {}):
            fail(f"{at}: no memory limit")


def check_build(name: str, objects: list[dict[str, Any]]) -> None:
    index = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    has_secrets = any(kind == "Secret" for kind, _ in index)
    for (kind, obj_name), obj in index.items():
        if kind == "ConfigMap":
            check_variables(f"{name} ConfigMap/{obj_name}", obj.get("data") or {})
    for where, pod in pods(objects):
        at = f"{name} {where}"
        check_restricted(at, pod)
        for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
            check_variables(f"{at} {c['name']}", [var["name"] for var in c.get("env", [])])
        for volume in pod["spec"].get("volumes", []):
            if "configMap" in volume and ("ConfigMap", volume["configMap"]["name"]) not in index:
                fail(f"{at}: volume {volume['name']} names a missing ConfigMap")
        for c in pod["spec"]["containers"]:
            env: dict[str, str] = {}
            for source in c.get("envFrom", []):
                ref = source["configMapRef"]["name"]
                cm = index.get(("ConfigMap", ref))
                if cm is None:
                    fail(f"{at}: envFrom names a missing ConfigMap {ref}")
                else:
                    env.update(cm.get("data", {}))
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if "value" in var:
                    env[var["name"]] = var["value"]
                elif ref and has_secrets:
                    secret = index.get(("Secret", ref["name"]))
                    if secret is None or ref["key"] not in secret.get("data", {}):
                        fail(f"{at}: {var['name']} names a missing secret {ref}")
                    else:
                        env[var["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
                elif "fieldRef" in var.get("valueFrom", {}):
                    env[var["name"]] = "pod-0"
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    fail(f"{at}: {probe} uses unknown port {port}")
            args = " ".join(c.get("command", []) + c.get("args", []))
            command = next((cmd for cmd in SETTINGS if re.search(rf"\b{cmd}\b", args)), None)
            if c["image"].startswith("roomcast") and has_secrets and command:
                check_settings(at, command, env)
            if c["image"].startswith("roomcast") and command in SERVICES:
                check_k8s_probes(f"{at} {c['name']}", c, env)
    for (kind, svc_name), svc in index.items():
        if kind != "Service":
            continue
        selector = svc["spec"].get("selector", {})
        matching = [
            pod
            for _, pod in pods(objects)
            if selector.items() <= pod["metadata"].get("labels", {}).items()
        ]
        if not matching:
            fail(f"{name} Service/{svc_name}: selects no pod")
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort")
            named = {
                p.get("name")
                for pod in matching
                for c in pod["spec"]["containers"]
                for p in c.get("ports", [])
            }
            if isinstance(target, str) and target not in named:
                fail(f"{name} Service/{svc_name}: targetPort {target} is not a container port")


def check_k8s_probes(at: str, c: dict[str, Any], env: dict[str, str]) -> None:
    """Probes reach the health listener: right paths, its port, bound to 0.0.0.0."""
    if env.get("ROOMCAST_HEALTH_HOST") != "0.0.0.0":  # noqa: S104
        fail(f"{at}: ROOMCAST_HEALTH_HOST is not 0.0.0.0; the kubelet cannot probe it")
    health_port = env.get("ROOMCAST_HEALTH_PORT", "")
    ports = {p.get("name"): str(p["containerPort"]) for p in c.get("ports", [])}
    for probe, path in PROBE_PATHS.items():
        get = c.get(probe, {}).get("httpGet")
        if get is None:
            fail(f"{at}: no {probe} with httpGet {path}")
            continue
        port = ports.get(get["port"], "") if isinstance(get["port"], str) else str(get["port"])
        if get.get("path") != path:
            fail(f"{at}: {probe} asks {get.get('path')}, not {path}")
        if port != health_port or not port.isdigit() or port == "0":
            fail(f"{at}: {probe} port {port or get['port']} is not ROOMCAST_HEALTH_PORT")


KUBERNETES_VERSION = "1.30"
"""Oldest Kubernetes the manifests are validated against (`matchLabelKeys` needs 1.27)."""

CUSTOM_KINDS = {"ServiceMonitor"}
"""Kinds of operators' CRDs: no schema in the Kubernetes API to check them against."""


def check_schemas(name: str, objects: list[dict[str, Any]]) -> None:
    """Every object against the Kubernetes API's schema, unknown fields included."""
    import kubernetes_validate

    for obj in objects:
        where = f"{name} {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if obj.get("kind") not in CUSTOM_KINDS:
                fail(f"{where}: no Kubernetes {KUBERNETES_VERSION} schema for this kind")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            fail(f"{where}: {path}: {exc.message}")


def check_k8s() -> None:
    kustomizations = sorted(K8S.rglob("kustomization.yaml"))
    for kfile in kustomizations:
        check_kustomization_files(kfile)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl not found: kustomize builds not checked")
        return
    for kfile in kustomizations:
        name = str(kfile.parent.relative_to(K8S))
        built = subprocess.run(
            [kubectl, "kustomize", str(kfile.parent)], capture_output=True, text=True
        )
        if built.returncode != 0:
            fail(f"kustomize {name}: {built.stderr.strip()}")
            continue
        objects = [o for o in yaml.safe_load_all(built.stdout) if o]
        check_schemas(name, objects)
        check_build(name, objects)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    check_compose()
    check_k8s()
    for problem in problems:
        print(f"FAIL {problem}")
    print("deploy files: " + (f"{len(problems)} problem(s)" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
