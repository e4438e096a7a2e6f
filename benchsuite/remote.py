"""Is a device profile runnable from here, and boards behind a TVM RPC tracker.

Workers reach a board through the profile's [transport] (transports/); the TVM runner can instead
ship compiled modules to a board behind an RPC tracker ([remote]): getting a module onto that board
and a session to it lives here, the TVM runner only compiles and times. Every wait is bounded by the
profile's [remote] timeouts.
"""
from __future__ import annotations

import platform
import socket

from .errors import BenchsuiteError

ARM_MACHINES = ("aarch64", "arm64")
HOW_TO_REMOTE = (
    "add a [transport] table to reach a board whose Python has benchsuite (kind = \"ssh\", \"adb\" or "
    "\"command\"; see README, ARM boards), or "
    "a [remote] table to the profile: tracker = \"HOST:PORT\" and key = \"BOARD_KEY\" of a TVM RPC tracker "
    "with the board registered (on a host: python -m tvm.exec.rpc_tracker --host 0.0.0.0 --port 9190; on the "
    "board: python -m tvm.exec.rpc_server --tracker HOST:9190 --key BOARD_KEY), plus target and cc for "
    "cross-compiling; or run benchsuite on the board itself")


def device_elsewhere(device) -> bool:
    """True when the profile names hardware this host is not (an ARM profile on an x86 host)."""
    return device.kind == "arm" and platform.machine().lower() not in ARM_MACHINES


def check_device(device) -> None:
    """Fail at once, with what to do, when a profile cannot run from this host."""
    if device.kind == "gpu":
        import torch

        if not torch.cuda.is_available():
            built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise BenchsuiteError(f"device '{device.name}' is a GPU profile, but no CUDA GPU is usable here "
                                  f"(torch {torch.__version__}, {built}); run it on a machine with an NVIDIA GPU "
                                  f"and a CUDA build of torch")
    if device_elsewhere(device) and device.transport is None and device.remote is None:
        raise BenchsuiteError(f"device '{device.name}' is an ARM profile and this host is "
                              f"{platform.machine()}: {HOW_TO_REMOTE}")
    if device.remote is not None:
        check_tracker(device.remote)


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
