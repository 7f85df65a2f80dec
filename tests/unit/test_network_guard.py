"""The network guard in conftest.py really blocks non-loopback connections."""

import socket

import pytest
import requests

from tests.conftest import NetworkBlocked


def test_external_connection_is_blocked():
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_requests_to_a_public_host_are_blocked():
    with pytest.raises((NetworkBlocked, requests.ConnectionError)):
        requests.get("http://example.com/", timeout=1)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=1)
    client.close()
    server.close()


def test_name_resolution_never_leaves_the_machine():
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)  # literals and localhost still work
    assert socket.getaddrinfo("localhost", 80)
