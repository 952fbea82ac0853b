"""The token key setting: configured, derived when unset, refused when short (naming the variable)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from clearframe_runtime.settings import describe_missing
from services.auth.domain import derive_token_key
from services.auth.settings import AuthSettings

INTERNAL = "an-internal-secret-for-tests"


def test_unset_token_key_is_derived_from_the_internal_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARFRAME_INTERNAL_SECRET", INTERNAL)
    monkeypatch.delenv("CLEARFRAME_AUTH_TOKEN_KEY", raising=False)
    key = AuthSettings().token_key()
    assert key == derive_token_key(INTERNAL) and INTERNAL.encode() not in key


def test_configured_token_key_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARFRAME_INTERNAL_SECRET", INTERNAL)
    monkeypatch.setenv("CLEARFRAME_AUTH_TOKEN_KEY", "a-configured-token-key-0123")
    assert AuthSettings().token_key() == b"a-configured-token-key-0123"


def test_short_token_key_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARFRAME_INTERNAL_SECRET", INTERNAL)
    monkeypatch.setenv("CLEARFRAME_AUTH_TOKEN_KEY", "short")
    with pytest.raises(ValidationError) as failure:
        AuthSettings()
    assert "CLEARFRAME_AUTH_TOKEN_KEY" in describe_missing(failure.value)
