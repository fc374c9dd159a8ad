"""Running the emulator: an HTTP server in a background thread, its control client and Airflow wiring.

The listening socket is bound and ``listen()``-ed before uvicorn starts, so a
client may connect the moment :meth:`EmulatorServer.start` returns: the
kernel queues the connection until the server thread accepts it.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import threading
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import requests
import uvicorn

from airflow_provider_usageintel.emulator import fluid_topics, fusionauth, usage_intelligence
from airflow_provider_usageintel.emulator.app import (
    CONTROL_PREFIX,
    EmulatorContext,
    RouterFactory,
    create_app,
    silence_injected_resets,
)
from airflow_provider_usageintel.emulator.config import EmulatorConfig

#: the APIs every emulator serves.
ROUTERS: tuple[RouterFactory, ...] = (
    usage_intelligence.build_router,
    fluid_topics.build_router,
    fusionauth.build_router,
)
CONN_TYPE = "usage_intelligence"
DEFAULT_CONN_ID = "usage_intelligence_default"
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapping, not binding


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class EmulatorServer:
    """One emulator on its own port; also a context manager."""

    def __init__(
        self, config: EmulatorConfig | None = None, routers: Sequence[RouterFactory] = ROUTERS
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.context = EmulatorContext.from_config(self.config)
        self.app = create_app(self.context, routers)
        self.control = EmulatorControl(self)
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The bound port (still known after :meth:`stop`, so URLs can be shown in reports)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL clients use, e.g. ``http://127.0.0.1:8080`` (no trailing slash)."""
        host = _WILDCARDS.get(self.config.host, self.config.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        silence_injected_resets()
        self._socket = _listening_socket(self.config.host, self.config.port)
        self._port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            access_log=False,
            log_config=None,
            log_level="warning",
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"usageintel-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, finish or cut open responses, and join the server thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Serve in the foreground until SIGINT or SIGTERM, then stop cleanly."""
        stop_requested = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop_requested.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if self._thread is None:
                self.start()
            while not stop_requested.wait(0.5) and self.running:
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def __enter__(self) -> EmulatorServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ wiring for clients

    def banner(self) -> list[str]:
        """What a person needs to connect to each emulated API, as the CLI prints it on start-up.

        The credentials are the emulator's own demo values, not secrets.
        """
        config = self.config
        rate = f"{config.download_mib_per_s:g} MiB/s" if config.download_mib_per_s else "unlimited"
        lines = [
            f"Usage Intelligence emulator listening on {self.url}",
            f"  user: {config.user}",
            f"  password: {config.password}",
            f"  product ids: {', '.join(config.product_ids)}",
            f"  origin: {config.origin}",
            f"  today: {self.context.clock.today.isoformat()}",
            f"  latency: {config.latency_ms:g} ms",
            f"  download bandwidth: {rate}",
            f"  Fluid Topics API key (Authorization: Bearer <key>): {config.fluid_topics_api_key}",
            f"  FusionAuth API key (Authorization: <key>): {config.fusionauth_api_key}",
            f"  FusionAuth report paths: {config.fusionauth_path_style}, "
            f"time zone {config.fusionauth_timezone}",
        ]
        if config.fusionauth_tenant_id:
            lines.append(f"  FusionAuth tenant id (X-FusionAuth-TenantId): {config.fusionauth_tenant_id}")
        return lines

    def _product(self, product_id: str | int | None) -> str:
        return str(product_id) if product_id is not None else self.config.product_ids[0]

    def airflow_connection(self, product_id: str | int | None = None) -> dict[str, Any]:
        """An Airflow connection of type ``usage_intelligence`` pointing at this emulator."""
        return {
            "conn_type": CONN_TYPE,
            "host": self.url,
            "login": self.config.user,
            "password": self.config.password,
            "extra": {"origin": self.config.origin, "product_id": self._product(product_id)},
        }

    def airflow_connection_json(self, product_id: str | int | None = None) -> str:
        """The connection in the JSON form ``AIRFLOW_CONN_<ID>`` accepts."""
        return json.dumps(self.airflow_connection(product_id))

    def fluid_topics_connection(self, calling_app: str = "emulator-tests") -> dict[str, Any]:
        """An Airflow connection of type ``fluid_topics`` pointing at this emulator."""
        return {
            "conn_type": "fluid_topics",
            "host": self.url,
            "password": self.config.fluid_topics_api_key,
            "extra": {"calling_app": calling_app},
        }

    def fluid_topics_connection_json(self, calling_app: str = "emulator-tests") -> str:
        """The Fluid Topics connection in the JSON form ``AIRFLOW_CONN_<ID>`` accepts."""
        return json.dumps(self.fluid_topics_connection(calling_app))

    def fusionauth_connection(self, path_style: str = "auto") -> dict[str, Any]:
        """An Airflow connection of type ``fusionauth`` pointing at this emulator."""
        extra: dict[str, Any] = {"path_style": path_style, "report_timezone": self.config.fusionauth_timezone}
        if self.config.fusionauth_tenant_id:
            extra["tenant_id"] = self.config.fusionauth_tenant_id
        return {
            "conn_type": "fusionauth",
            "host": self.url,
            "password": self.config.fusionauth_api_key,
            "extra": extra,
        }

    def fusionauth_connection_json(self, path_style: str = "auto") -> str:
        """The FusionAuth connection in the JSON form ``AIRFLOW_CONN_<ID>`` accepts."""
        return json.dumps(self.fusionauth_connection(path_style))

    def connection_uri(self, product_id: str | int | None = None) -> str:
        """The connection as an Airflow URI.

        The host keeps its ``http`` scheme (written before the credentials, as
        Airflow does), and the port rides inside the percent-encoded host, so
        the parsed host is the full base URL and the hook does not assume https.
        """
        conn = self.airflow_connection(product_id)
        scheme, _, authority = self.url.partition("://")
        credentials = f"{quote(conn['login'], safe='')}:{quote(conn['password'], safe='')}"
        return (
            f"{CONN_TYPE.replace('_', '-')}://{scheme}://{credentials}@{quote(authority, safe='')}/?"
            + urlencode(conn["extra"])
        )

    def airflow_env(
        self, conn_id: str = DEFAULT_CONN_ID, product_id: str | int | None = None
    ) -> dict[str, str]:
        """Environment variables defining the connection, e.g. for ``monkeypatch.setenv``."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": self.airflow_connection_json(product_id)}

    def login_session(self) -> requests.Session:
        """A ``requests`` session logged in as the configured user, for tests that call the API directly."""
        session = requests.Session()
        session.headers.update({"Origin": self.config.origin, "RUI-Client": "emulator-tests"})
        session.get(f"{self.url}/v3/request-csrf", timeout=10).raise_for_status()
        credentials = {"userName": self.config.user, "password": self.config.password}
        session.post(f"{self.url}/v3/auth/web", json=credentials, timeout=10).raise_for_status()
        return session


class EmulatorControl:
    """Client of the control API (``/_emulator/...``) of a running emulator."""

    def __init__(self, server: EmulatorServer, timeout: float = 10.0) -> None:
        self._server = server
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self._server.url}{CONTROL_PREFIX}{path}"
        response = requests.request(method, url, json=body, timeout=self.timeout)
        if response.status_code >= 400:
            raise ValueError(f"{method} {CONTROL_PREFIX}{path}: HTTP {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def today(self) -> dt.date:
        return dt.date.fromisoformat(self._call("GET", "/clock")["today"])

    def advance_days(self, days: int = 1) -> dt.date:
        """Move the simulated date forward; returns the new ``today``."""
        return dt.date.fromisoformat(self._call("POST", "/clock", {"advance_days": days})["today"])

    def latency_ms(self) -> float:
        """The simulated latency every API answer and download waits for, in milliseconds."""
        result: float = self._call("GET", "/latency")["latency_ms"]
        return result

    def set_latency_ms(self, latency_ms: float) -> float:
        """Delay every later API answer and download by ``latency_ms`` (0: none); returns it."""
        result: float = self._call("POST", "/latency", {"latency_ms": latency_ms})["latency_ms"]
        return result

    def download_mib_per_s(self) -> float:
        """The simulated bandwidth of each file download in MiB/s (0: unlimited)."""
        result: float = self._call("GET", "/bandwidth")["download_mib_per_s"]
        return result

    def set_download_mib_per_s(self, mib_per_s: float) -> float:
        """Hold every later file download to ``mib_per_s`` (0: unlimited); returns it."""
        result: float = self._call("POST", "/bandwidth", {"download_mib_per_s": mib_per_s})[
            "download_mib_per_s"
        ]
        return result

    def set_file_size(self, file_name: str, size_bytes: int) -> None:
        """Pin the exact zip size of a file, e.g. to test large downloads."""
        self._call("POST", "/files", {"file_name": file_name, "size_bytes": size_bytes})

    def add_fault(self, **fault: Any) -> dict[str, Any]:
        """Queue a fault (see :mod:`airflow_provider_usageintel.emulator.faults`); returns it with its id."""
        result: dict[str, Any] = self._call("POST", "/faults", fault)
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/faults")
        return result

    def requests(self) -> list[dict[str, Any]]:
        """Every API request so far: ``{"method", "path", "status"}``, oldest first."""
        result: list[dict[str, Any]] = self._call("GET", "/requests")
        return result

    def sessions(self) -> dict[str, int]:
        """``{"logins", "logouts", "open"}``: logins, sessions ended by a logout, sessions still open."""
        result: dict[str, int] = self._call("GET", "/sessions")
        return result

    def reset(self) -> None:
        """Drop pending faults, the request log and the login counts."""
        self._call("POST", "/reset")
