"""Shared test fixtures and the network guard.

* No test may touch the network: every socket connection to anything but loopback (or a
  Unix socket) raises. Local HTTP/SMTP servers started by tests on 127.0.0.1 still work.
* ``shared_data`` resolves ``../shared/data`` beside the repository, where CI puts it.
  The real payloads are read in place and never copied into the repository.
* ``tracker_env`` points the warehouse, archive, config and DAGSTER_HOME at a temp dir.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_create_connection = socket.create_connection


class NetworkBlocked(RuntimeError):
    """A test tried to reach a non-loopback address."""


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname other than localhost would need DNS: refuse


def _guarded_connect(self, address):
    if not _is_local(address):
        raise NetworkBlocked(f"test tried to connect to {address!r}: network is blocked in tests")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise NetworkBlocked(f"test tried to connect to {address!r}: network is blocked in tests")
    return _real_connect_ex(self, address)


def _guarded_create_connection(address, *args, **kwargs):
    if not _is_local(address):
        raise NetworkBlocked(f"test tried to connect to {address!r}: network is blocked in tests")
    return _real_create_connection(address, *args, **kwargs)


_real_getaddrinfo = socket.getaddrinfo
_OWN_NAMES = {"localhost", socket.gethostname()}


def _guarded_getaddrinfo(host, *args, **kwargs):
    """Name resolution stays on the machine too: any name but localhost / this host / an IP
    literal "does not resolve" (EAI_NONAME) without a DNS query leaving the machine -- which
    is also what the offline fast-fail tests expect of their ``.invalid`` names."""
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name not in _OWN_NAMES:
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            raise socket.gaierror(
                socket.EAI_NONAME, f"name resolution of {name!r} is blocked in tests"
            ) from None
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config):
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.create_connection = _guarded_create_connection


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recorded data shipped beside the repo (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"shared data not found at {SHARED_DATA}: the tests read real payloads from "
            "../shared/data beside the repository checkout (CI provides it)"
        )
    return SHARED_DATA


@pytest.fixture
def tracker_env(tmp_path, monkeypatch):
    """Warehouse, archive, published dir and DAGSTER_HOME under tmp_path; a config file
    that disables nothing but points nowhere near the real warehouse."""
    warehouse_dir = tmp_path / "warehouse"
    warehouse_dir.mkdir()
    config = tmp_path / "gpu_tracker.toml"
    config.write_text(
        "[paths]\n"
        f'warehouse = "{warehouse_dir / "gpu_market.duckdb"}"\n'
        f'archive = "{warehouse_dir / "raw"}"\n'
        f'published = "{warehouse_dir / "published"}"\n'
        f'dagster_home = "{warehouse_dir / "dagster_home"}"\n'
    )
    monkeypatch.setenv("GPU_TRACKER_CONFIG", str(config))
    monkeypatch.delenv("GPU_TRACKER_WAREHOUSE", raising=False)
    monkeypatch.delenv("GPU_TRACKER_ARCHIVE", raising=False)
    home = warehouse_dir / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return warehouse_dir


def pytest_collection_modifyitems(config, items):
    """The reliability suite (kills, races, disk full, slow servers) is slow by nature: mark
    all of it, so `-m "not slow"` runs the fast tests first, in parallel (pytest-xdist), and
    `-m slow` runs the rest on their own (their timings and locks want a quiet machine)."""
    for item in items:
        if "tests/reliability/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.slow)


# ------------------------------------------------------------ #10 fault kinds, with outcomes
_fault_outcomes: dict[str, list[str]] = {}


def pytest_runtest_logreport(report):
    from tests.fault_ledger import kind_of

    kind = kind_of(report.nodeid)
    if kind is None or (report.when != "call" and report.passed):
        return
    if report.when == "call" or report.failed:
        _fault_outcomes.setdefault(kind, []).append("passed" if report.passed else report.outcome)


def pytest_terminal_summary(terminalreporter):
    """Print the fault kinds of tests/fault_ledger.py that ran, each with its tests' outcome."""
    if not _fault_outcomes:
        return
    lines = ["| fault | tests | outcome | rows lost / duplicated |", "|---|---|---|---|"]
    for kind, outcomes in _fault_outcomes.items():
        ok = all(o == "passed" for o in outcomes)
        lines.append(
            f"| {kind} | {len(outcomes)} | {'handled' if ok else 'FAILED'} | "
            f"{'none (asserted)' if ok else 'see the failure'} |"
        )
    terminalreporter.write_line("\nFault kinds tested outside the live-path suite (#10):")
    for line in lines:
        terminalreporter.write_line(line)
