"""Joining Ray for the ``"ray"`` executor (:func:`connect`): a local instance, or a cluster by address,
checked first so that a wrong address fails in seconds with an error naming it.

``ray_address=None`` joins the cluster named by ``$RAY_ADDRESS`` if that is set and otherwise starts
a local Ray instance with ``workers`` CPUs (default: the cores of this machine); an address
(``host:port`` of the head node, as ``ray start --head`` prints it) or ``"auto"`` (``$RAY_ADDRESS``,
else the cluster started on this machine with ``ray start``) joins that cluster. Before
``ray.init`` is called the address must accept a TCP connection and answer as a gRPC server (Ray's
head node speaks HTTP/2) within :data:`CONNECT_TIMEOUT_S` seconds each (:func:`check_reachable`):
``ray.init`` itself keeps retrying for minutes an address where nothing listens, and also one where
something that is not Ray listens. A process already connected to Ray keeps its connection.
"""
from __future__ import annotations

import os
import socket
import time

from .common import check, default_workers

#: The Ray release the project pins (requirements.txt) and the install hint errors give.
RAY_REQUIREMENT = "ray==2.60.0"
#: Seconds to wait for a cluster's address to accept a connection, and again for it to answer as
#: Ray (gRPC) does, before giving up on it.
CONNECT_TIMEOUT_S = 10.0

#: The HTTP/2 client connection preface and an empty SETTINGS frame: a gRPC server (Ray's head
#: node) answers with its own SETTINGS frame (type 4, stream 0).
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def import_ray():
    """The ``ray`` module, or ``ImportError`` saying how to install the pinned release."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"executor='ray' needs Ray, which is not installed here: "
                          f"pip install {RAY_REQUIREMENT} "
                          f"(or `make venv`, which installs every pin of requirements.txt)") from exc
    return ray


def host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``host:port`` or ``[v6]:port`` (a scheme such as ``ray://`` is passed over);
    ``ValueError`` naming the address otherwise."""
    rest = address.split("://", 1)[1] if "://" in address else address
    rest = rest.rstrip("/")
    host, sep, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"ray_address {address!r} is not a cluster address: expected 'host:port' "
                         "(e.g. '10.0.0.1:6379', the address `ray start --head` prints) or 'auto'")
    return host, int(port)


def _tls() -> bool:
    """Whether Ray is told to use TLS (``RAY_USE_TLS``): then the head node expects a TLS handshake
    and only the TCP connection is checked here."""
    return os.environ.get("RAY_USE_TLS", "0").strip().lower() in ("1", "true", "yes")


def _http2_answer(sock: socket.socket, deadline: float) -> str | None:
    """``None`` if the peer answers the HTTP/2 preface with a SETTINGS frame before ``deadline``,
    else what it did instead."""
    sock.sendall(HTTP2_PREFACE)
    head = b""
    while len(head) < 9:
        left = deadline - time.monotonic()
        if left <= 0:
            return "it sent nothing back" if not head else f"it sent only {head!r}"
        sock.settimeout(left)
        try:
            chunk = sock.recv(9 - len(head))
        except socket.timeout:
            continue
        except OSError as exc:
            return f"the connection failed ({exc.strerror or exc})"
        if not chunk:
            return "it closed the connection"
        head += chunk
    if head[3] == 4 and head[5:9] == b"\0\0\0\0":
        return None
    return f"it answered {head!r}, not HTTP/2"


def check_reachable(address: str, timeout: float | None = None) -> None:
    """``ConnectionError`` naming ``address`` unless something accepts a TCP connection there within
    ``timeout`` seconds (default :data:`CONNECT_TIMEOUT_S`) and then answers as a gRPC server does
    (an HTTP/2 SETTINGS frame) within ``timeout`` seconds more; without TLS only (``RAY_USE_TLS``).
    Ray itself would keep retrying either address for many minutes; this fails in seconds."""
    host, port = host_port(address)
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            problem = None if _tls() else _http2_answer(sock, time.monotonic() + timeout)
    except OSError as exc:
        raise ConnectionError(f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); "
                              "start one with `ray start --head` and pass the address it prints, "
                              "or use ray_address=None for a local Ray instance") from exc
    if problem is not None:
        raise ConnectionError(f"{address!r} accepts connections but is not a Ray cluster: {problem} "
                              f"(Ray's head node answers in gRPC within {timeout:g} s); "
                              "pass the address that `ray start --head` prints "
                              "(its GCS port, 6379 by default)")


def _resolve_auto() -> str:
    """The address ``"auto"`` stands for when ``$RAY_ADDRESS`` is not set: the cluster last started
    on this machine with ``ray start`` (Ray's own lookup); ``ConnectionError`` if there is none."""
    from ray._private import services

    found = services.canonicalize_bootstrap_address("auto")
    if found is None:  # pragma: no cover - Ray raises for "auto" instead
        raise ConnectionError("ray_address='auto' found no running Ray cluster on this machine")
    return found


def _same_cluster(address: str, connected: str) -> bool:
    from ray._private import services

    try:
        return services.canonicalize_bootstrap_address(address) == connected
    except Exception:
        return False


def connect(ray_address: str | None = None, workers: int | None = None):
    """Connect this process to Ray as ``evaluate_masks(executor="ray")`` does (see the module
    docstring) and return the ``ray`` module. A local instance started here gets ``workers`` CPUs
    (default: this machine's cores) and lives until ``ray.shutdown()`` or the end of the process."""
    check("ray", ray_address)
    return join(ray_address, workers)


def join(ray_address: str | None, workers: int | None):
    """:func:`connect` for a ``ray_address`` already checked (the executor's entry checks it)."""
    ray = import_ray()
    if ray.is_initialized():
        connected = ray.get_runtime_context().gcs_address
        if ray_address in (None, "auto") or _same_cluster(ray_address, connected):
            return ray
        raise ValueError(f"this process is already connected to the Ray cluster at {connected!r}; "
                         f"ray_address={ray_address!r} names another one: call ray.shutdown() first")
    address = ray_address
    if address in (None, "auto") and os.environ.get("RAY_ADDRESS"):  # as ray.init reads it
        address = os.environ["RAY_ADDRESS"]
    if address is None:
        # A library that starts Ray for its caller does not opt them into Ray's usage statistics.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address="local", num_cpus=workers or default_workers(), include_dashboard=False)
        return ray
    auto = address == "auto"
    if auto:
        address = _resolve_auto()
    check_reachable(address)
    try:
        # "auto" is passed on as such: for a cluster found that way (and only then) Ray uses the
        # token in ~/.ray/auth_token if the cluster asks for one.
        ray.init(address="auto" if auto else address)
    except Exception as exc:
        raise ConnectionError(f"could not join the Ray cluster at {address!r}: {_explain(exc)}") from exc
    return ray


def _explain(exc: BaseException) -> str:
    """What went wrong in ``ray.init``: its message, the root cause's first and last lines, and how to
    pass a token where the cluster asks for one."""
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__
    lines = [line for line in str(root).strip().splitlines() if line.strip()]
    short = lines[0] if len(lines) <= 1 else f"{lines[0]} ... {lines[-1].strip()}"
    detail = str(exc) if root is exc else f"{exc} ({type(root).__name__}: {short})"
    if "auth" in type(root).__name__.lower() or "token" in str(root).lower():
        detail += ("; the cluster uses token authentication: set RAY_AUTH_MODE=token and make the head's "
                   "token (`ray get-auth-token` there) available as ~/.ray/auth_token or $RAY_AUTH_TOKEN")
    return detail
