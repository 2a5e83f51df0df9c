"""A fixture for tests that talk to servers: any connection outside loopback fails the test.

Used (autouse) by the conftest of the test folders whose code fetches."""

import socket

import pytest


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Hard guarantee: any attempt to connect outside loopback fails the test."""
    connect = socket.socket.connect

    def guarded(sock, address):
        assert isinstance(address, tuple) and address[0].startswith(("127.", "::1")), f"connect to {address}"
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
