"""The Azurite fixture skips where Azurite is missing, except in CI, where it fails."""

from __future__ import annotations

import pytest

from tests.azurite import _unavailable


def test_without_azurite_a_developer_gets_a_skip_saying_how_to_install_it(monkeypatch) -> None:
    monkeypatch.delenv("SPEECHREST_REQUIRE_AZURITE", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"not installed.*npm ci"):
        _unavailable("Azurite is not installed")


def test_without_azurite_ci_fails(monkeypatch) -> None:
    monkeypatch.setenv("SPEECHREST_REQUIRE_AZURITE", "1")
    with pytest.raises(pytest.fail.Exception, match=r"required.*not installed"):
        _unavailable("Azurite is not installed")
