"""Boards behind a TVM RPC tracker (a device profile's `[remote]` table): its validation, the tracker's
checks, and the one session a worker holds on a board. Every wait is bounded by the table's timeouts.

The profile keeps the validated table as plain data (`DeviceSpec.remote`, a dict that travels to workers
as it is); `remote_of(device)` gives it back typed."""
from __future__ import annotations

import socket
from dataclasses import asdict, dataclass

from ...errors import BenchsuiteError

HOW_TO = ("a [remote] table: tracker = \"HOST:PORT\" and key = \"BOARD_KEY\" of a TVM RPC tracker with the board "
          "registered (on a host: python -m tvm.exec.rpc_tracker --host 0.0.0.0 --port 9190; on the board: python "
          "-m tvm.exec.rpc_server --tracker HOST:9190 --key BOARD_KEY), plus target and cc for cross-compiling")


@dataclass(frozen=True)
class RemoteSpec:
    """A board reached through a TVM RPC tracker."""
    tracker_host: str
    tracker_port: int
    key: str
    target: dict            # TVM target for the board, e.g. {"kind": "llvm", "mtriple": "aarch64-linux-gnu"}
    cc: str = ""            # cross compiler for the board's shared library ("" = the host's default)
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 60.0
    session_timeout_s: float = 600.0



def check_table(c) -> dict:
    """Validate a profile's [remote] table with the profile's checker (spec.py's); the table as plain data."""
    tracker = c.get("tracker", str, check=lambda v: v.count(":") == 1 and v.rsplit(":", 1)[1].isdigit(),
                    valid="HOST:PORT")
    host, port = tracker.rsplit(":", 1)
    key = c.get("key", str, check=bool, valid="the device key the board's rpc_server registered with")
    target = c.get("target", dict, {"kind": "llvm", "mtriple": "aarch64-linux-gnu"})
    cc = c.get("cc", str, "")
    timeouts = {k: float(c.get(k, (int, float), getattr(RemoteSpec, k), check=lambda v: v > 0, valid="> 0"))
                for k in ("connect_timeout_s", "request_timeout_s", "session_timeout_s")}
    c.done()
    return asdict(RemoteSpec(host, int(port), key, target, cc, **timeouts))


def remote_of(device) -> RemoteSpec | None:
    """The device profile's [remote] table, typed (None when the profile has none)."""
    return RemoteSpec(**device.remote) if device.remote is not None else None


def _tracker_session(remote):
    from tvm import rpc

    return rpc.connect_tracker(remote.tracker_host, remote.tracker_port)


def check_tracker(remote) -> None:
    """The tracker answers within connect_timeout_s and knows the key; else a clear error."""
    addr = f"{remote.tracker_host}:{remote.tracker_port}"
    try:
        socket.create_connection((remote.tracker_host, remote.tracker_port), timeout=remote.connect_timeout_s).close()
    except OSError as e:
        raise BenchsuiteError(f"RPC tracker {addr} unreachable within {remote.connect_timeout_s:g} s ({e}); "
                              f"start one with: python -m tvm.exec.rpc_tracker --port {remote.tracker_port}") from None
    keys = registered_keys(remote)
    if remote.key not in keys:
        raise BenchsuiteError(f"no board with key '{remote.key}' is registered at tracker {addr} "
                              f"(registered: {', '.join(sorted(keys)) or 'none'}); on the board run: "
                              f"python -m tvm.exec.rpc_server --tracker {addr} --key {remote.key}")


def registered_keys(remote) -> dict[str, int]:
    """key -> number of free boards, from the tracker's summary."""
    summary = _tracker_session(remote).summary()
    free = {info["key"].removeprefix("server:"): 0 for info in summary.get("server_info", [])}
    free.update({key: stat.get("free", 0) for key, stat in summary.get("queue_info", {}).items()})
    return free


def request_session(remote):
    """A session on a free board with the key, waiting at most request_timeout_s for one."""
    tracker = _tracker_session(remote)
    tracker._connect()
    tracker._sock.settimeout(remote.request_timeout_s)  # a busy key would otherwise wait forever
    try:
        return tracker.request(remote.key, priority=1, session_timeout=remote.session_timeout_s, max_retry=1)
    except RuntimeError as e:
        raise RuntimeError(f"no free board with key '{remote.key}' within {remote.request_timeout_s:g} s "
                           f"at {remote.tracker_host}:{remote.tracker_port} ({e})") from None


class BoardSession:
    """The one RPC session a worker process holds on a board, shared by every case it prepares.

    The tracker lends a board to one session at a time and a comparison group keeps all its cases
    loaded while they are measured interleaved, so a session per case would wait for the board the
    group's first case already holds. `release` hands the board back (MetaSchedule's RPC runner
    needs it to tune the next case); modules are uploaded again on their next use.
    """

    def __init__(self, remote):
        self.remote = remote
        self._session = None
        self._modules: dict[str, tuple[str, list]] = {}  # name -> (local library path, host arrays)
        self._loaded: dict[str, tuple] = {}              # name -> (vm, device, device arrays)

    def add(self, lib_path: str, arrays: list) -> str:
        """Register a compiled library and the numpy arrays it is called with; returns its handle."""
        name = f"m{len(self._modules)}"  # the file name on the board
        self._modules[name] = (lib_path, arrays)
        return name

    def get(self, name: str):
        """(vm, device, arrays on the board) for a registered module, uploading it if needed."""
        if name not in self._loaded:
            import tvm
            from tvm import relax

            if self._session is None:
                self._session = request_session(self.remote)
            lib_path, arrays = self._modules[name]
            self._session.upload(lib_path, target=name + ".so")
            dev = self._session.cpu()
            vm = relax.VirtualMachine(self._session.load_module(name + ".so"), dev)
            self._loaded[name] = (vm, dev, [tvm.runtime.tensor(a, device=dev) for a in arrays])
        return self._loaded[name]

    def release(self) -> None:
        """Close the session so that the board is free for others; remote objects die with it."""
        import gc

        self._loaded.clear()
        self._session = None
        gc.collect()  # the socket closes when the last remote handle is freed


_boards: dict[tuple, BoardSession] = {}


def board_session(remote) -> BoardSession:
    """This process's session manager for the board the profile names."""
    key = (remote.tracker_host, remote.tracker_port, remote.key)
    if key not in _boards:
        _boards[key] = BoardSession(remote)
    return _boards[key]
