"""Fixtures of the collector tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fake_http import self_signed_cert


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, for the fakes served over HTTPS."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"))
