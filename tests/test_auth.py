"""Auth through the gateway: the credential matrix, tokens, API keys and seed 000's `GET /token`.

Time-dependent rules (expiry, the keyless rate limit's refill) are tested on the domain with an injected
clock in services/auth/tests, not here with sleeps.
"""

from __future__ import annotations

import asyncio
import re
import time

import grpc
import httpx
import pytest
import sqlalchemy as sa

from clearframe.auth.v1 import auth_pb2, auth_pb2_grpc
from clearframe_mesh.launcher import Mesh
from clearframe_runtime import db
from clearframe_runtime.principal import PRINCIPAL_HEADER, SIGNATURE_HEADER, Principal, PrincipalCodec
from clearframe_runtime.status import error_info
from tests.conftest import LEGACY_BURST, LEGACY_SUBJECT, make_key, make_token

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def caller_of(http: httpx.Client, headers: dict[str, str]) -> dict[str, object] | int:
    """Who the gateway says the credentials belong to, or the HTTP status that refused them."""
    response = http.get("/v1/caller", headers=headers)
    if response.status_code != 200:
        return response.status_code
    caller: dict[str, object] = response.json()["caller"]
    return caller


# --- the credential matrix ----------------------------------------------------------------------------


def test_no_credentials_is_401_with_reason(http: httpx.Client) -> None:
    response = http.get("/v1/caller")
    assert response.status_code == 401
    assert response.json()["details"][0]["reason"] == "MISSING_CREDENTIALS"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-real-secret"},
        {"Authorization": "0123456789abcdef0123456789abcdef"},
        {"X-API-Key": "cfk_forged"},
    ],
)
def test_bad_credentials_are_401(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.get("/v1/caller", headers=headers)
    assert response.status_code == 401
    assert response.json()["details"][0]["reason"] == "INVALID_CREDENTIALS"


def test_every_way_of_presenting_a_key_works(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    key = make_key(http, admin_headers, "config.read")
    for headers in ({"Authorization": f"Bearer {key}"}, {"Authorization": key}, {"X-API-Key": key}):
        caller = caller_of(http, headers)
        assert isinstance(caller, dict), headers
        assert caller["permissions"] == ["config.read"] and caller["kind"] == "CREDENTIAL_KIND_API_KEY"


def test_revoked_token_is_refused(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    issued = make_token(http, admin_headers, "revoked@example.org")
    token_id = issued["token_info"]["token_id"]
    assert caller_of(http, {"Authorization": issued["token"]}) == {
        "subject": "revoked@example.org",
        "kind": "CREDENTIAL_KIND_TOKEN",
        "permissions": ["scans.create"],
        "client_ip": "127.0.0.1",
    }
    response = http.post(f"/v1/tokens/{token_id}:revoke", headers=admin_headers, json={})
    assert response.status_code == 200
    revoked = response.json()["token"]
    assert revoked["token_id"] == token_id and revoked["revoke_time"]
    assert caller_of(http, {"Authorization": f"Bearer {issued['token']}"}) == 401
    again = http.post(f"/v1/tokens/{token_id}:revoke", headers=admin_headers, json={})
    assert again.status_code == 400
    assert again.json()["details"][0]["reason"] == "ALREADY_REVOKED"


def test_wrong_permission_is_403(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    key = make_key(http, admin_headers, "config.read")
    response = http.post(
        "/v1/apikeys", headers={"X-API-Key": key}, json={"display_name": "escalation", "permissions": ["admin"]}
    )
    assert response.status_code == 403
    assert response.json()["details"][0]["reason"] == "INSUFFICIENT_PERMISSIONS"


def test_forged_principal_headers_are_stripped(http: httpx.Client, admin_headers: dict[str, str], mesh: Mesh) -> None:
    forged_value, forged_signature = PrincipalCodec("attacker-guessed-secret!").encode(
        Principal("evil", "api_key", frozenset({"admin"}), "1.2.3.4")
    )
    forged = {PRINCIPAL_HEADER: forged_value, SIGNATURE_HEADER: forged_signature}
    # Without credentials the forgery does not get past the gateway …
    assert http.get("/v1/caller", headers=forged).status_code == 401
    # … and with real (weak) credentials the service sees the real caller, not the forged one.
    key = make_key(http, admin_headers, "analytics.read")
    caller = http.get("/v1/caller", headers={**forged, "X-API-Key": key}).json()["caller"]
    assert caller["permissions"] == ["analytics.read"]
    assert caller["subject"].startswith("apikey:")
    # A principal signed with the mesh's real secret but replayed by a client is stripped too.
    real_value, real_signature = PrincipalCodec(mesh.secret).encode(Principal("evil", "api_key", frozenset({"admin"})))
    response = http.post(
        "/v1/apikeys",
        headers={PRINCIPAL_HEADER: real_value, SIGNATURE_HEADER: real_signature, "X-API-Key": key},
        json={"display_name": "x", "permissions": ["admin"]},
    )
    assert response.status_code == 403


def test_native_grpc_auth_through_the_gateway(gateway_channel: grpc.Channel, admin_headers: dict[str, str]) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(gateway_channel)
    with pytest.raises(grpc.RpcError) as failure:
        stub.GetCaller(auth_pb2.GetCallerRequest(), timeout=5)
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    answer = stub.GetCaller(
        auth_pb2.GetCallerRequest(), metadata=[("x-api-key", admin_headers["Authorization"][7:])], timeout=5
    )
    assert answer.caller.kind == auth_pb2.CREDENTIAL_KIND_API_KEY
    assert "admin" in answer.caller.permissions


def test_services_refuse_a_direct_call_without_a_signed_principal(mesh: Mesh) -> None:
    with grpc.insecure_channel(mesh.service_target("auth")) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.ListApiKeys(
                auth_pb2.ListApiKeysRequest(),
                metadata=[(PRINCIPAL_HEADER, "e30"), (SIGNATURE_HEADER, "bad")],
                timeout=5,
            )
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
        info = error_info(failure.value)
        assert info is not None and info.reason == "MISSING_CREDENTIALS"


# --- API keys -----------------------------------------------------------------------------------------


def test_api_key_lifecycle(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    created = http.post(
        "/v1/apikeys",
        headers=admin_headers,
        json={"display_name": "musenest", "permissions": ["config.read", "config.write"]},
    )
    assert created.status_code == 200
    secret, key = created.json()["secret"], created.json()["api_key"]
    assert secret.startswith("cfk_") and key["created_by"].startswith("apikey:")
    assert key["display_name"] == "musenest" and key["permissions"] == ["config.read", "config.write"]
    assert secret not in str(key)

    caller = caller_of(http, {"X-API-Key": secret})
    assert isinstance(caller, dict) and caller["subject"] == f"apikey:{key['key_id']}"
    fetched = http.get(f"/v1/apikeys/{key['key_id']}", headers=admin_headers)
    assert fetched.json()["api_key"]["last_used_time"] and fetched.json()["api_key"]["last_used_ip"] == "127.0.0.1"
    assert secret not in fetched.text

    listed = http.get("/v1/apikeys", headers=admin_headers, params={"page_size": 100})
    assert key["key_id"] in {k["key_id"] for k in listed.json()["api_keys"]}
    # The secret's value appears nowhere in the answer (under no field name).
    assert secret not in listed.text

    rotated = http.post(f"/v1/apikeys/{key['key_id']}:rotate", headers=admin_headers, json={}).json()
    assert rotated["secret"] != secret and rotated["api_key"]["rotate_time"]
    assert caller_of(http, {"X-API-Key": secret}) == 401
    caller = caller_of(http, {"X-API-Key": rotated["secret"]})
    assert isinstance(caller, dict) and caller["subject"] == f"apikey:{key['key_id']}"
    assert rotated["secret"] not in http.get("/v1/apikeys", headers=admin_headers, params={"page_size": 100}).text

    revoked = http.post(f"/v1/apikeys/{key['key_id']}:revoke", headers=admin_headers, json={})
    assert revoked.status_code == 200 and revoked.json()["api_key"]["revoke_time"]
    assert caller_of(http, {"X-API-Key": rotated["secret"]}) == 401


def test_api_key_validation_names_the_field(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = http.post(
        "/v1/apikeys", headers=admin_headers, json={"display_name": "x", "permissions": ["config.read", "root"]}
    )
    assert response.status_code == 400
    detail = response.json()["details"][0]
    assert detail["reason"] == "INVALID_PERMISSION" and detail["metadata"]["field"] == "permissions"
    missing = http.post("/v1/apikeys", headers=admin_headers, json={"display_name": "", "permissions": ["admin"]})
    assert missing.status_code == 400
    assert missing.json()["details"][0]["metadata"]["field"] == "api_key.display_name"


def test_unknown_api_key_is_404(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = http.get("/v1/apikeys/k_doesnotexist", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["details"][0]["reason"] == "API_KEY_NOT_FOUND"


# --- tokens -------------------------------------------------------------------------------------------


def test_tokens_are_listed_paginated_without_secrets(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    subject = "paged@example.org"
    secrets_issued = {make_token(http, admin_headers, subject)["token"] for _ in range(3)}
    seen, page_token = [], ""
    while True:
        page = http.get(
            "/v1/tokens", headers=admin_headers, params={"subject": subject, "page_size": 2, "page_token": page_token}
        ).json()
        seen += page["tokens"]
        assert len(page["tokens"]) <= 2
        page_token = page["next_page_token"]
        if not page_token:
            break
    assert len(seen) == 3
    assert not any(s in str(seen) for s in secrets_issued)
    bad = http.get("/v1/tokens", headers=admin_headers, params={"page_token": "garbage!"})
    assert bad.status_code == 400


def test_token_defaults_to_thirty_days(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    info = make_token(http, admin_headers, "thirty@example.org")["token_info"]
    from datetime import datetime

    created = datetime.fromisoformat(info["create_time"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(info["expire_time"].replace("Z", "+00:00"))
    assert abs((expires - created).total_seconds() - 30 * 86400) < 2


def test_renew_replaces_the_token(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    first = make_token(http, admin_headers, "renew@example.org")
    renewed = http.post(f"/v1/tokens/{first['token_info']['token_id']}:renew", headers=admin_headers, json={}).json()
    assert HEX32.match(renewed["token"])
    assert http.get("/v1/caller", headers={"Authorization": first["token"]}).status_code == 401
    caller = http.get("/v1/caller", headers={"Authorization": renewed["token"]}).json()["caller"]
    assert caller["subject"] == "renew@example.org" and caller["kind"] == "CREDENTIAL_KIND_TOKEN"


def test_validate_token(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    token = make_token(http, admin_headers, "validate@example.org")["token"]
    good = http.post("/v1/tokens:validate", headers=admin_headers, json={"secret": token}).json()
    assert good["valid"] and good["caller"]["subject"] == "validate@example.org"
    bad = http.post("/v1/tokens:validate", headers=admin_headers, json={"secret": "f" * 32}).json()
    assert bad["valid"] is False


# --- seed 000: GET /token and the legacy routes' 403 ----------------------------------------------------


def test_legacy_token_needs_a_key_by_default(http: httpx.Client) -> None:
    response = http.get("/token", params={"email": "stranger@example.org"})
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden"}


def test_legacy_token_missing_email(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = http.get("/token", headers=admin_headers)
    assert response.status_code == 400
    assert response.json() == {"error": "missing email"}


def test_legacy_token_with_key_is_bare_text(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = http.get("/token", params={"email": "bot@example.org"}, headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert HEX32.match(response.text) and not response.text.endswith("\n")
    caller = caller_of(http, {"Authorization": response.text})
    assert isinstance(caller, dict) and caller["subject"] == "bot@example.org"


def test_repeated_token_calls_give_the_same_token_until_renew(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    """The Discord bot re-fetches /token every 10 minutes: it must not pile up live tokens."""
    subject = "repeat-bot@example.org"
    answers = {http.get("/token", params={"email": subject}, headers=admin_headers).text for _ in range(5)}
    assert len(answers) == 1
    (current,) = answers
    assert HEX32.match(current)
    listed = http.get("/v1/tokens", headers=admin_headers, params={"subject": subject}).json()["tokens"]
    assert len(listed) == 1

    renewed = http.get(f"/token?email={subject}&renew", headers=admin_headers)
    assert renewed.status_code == 200 and HEX32.match(renewed.text) and renewed.text != current
    assert caller_of(http, {"Authorization": current}) == 401
    caller = caller_of(http, {"Authorization": renewed.text})
    assert isinstance(caller, dict) and caller["subject"] == subject
    # The renewed token is now the one every later call returns.
    assert http.get("/token", params={"email": subject}, headers=admin_headers).text == renewed.text


def test_a_token_is_not_returned_for_another_subject_or_issuer(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    other_key = make_key(http, admin_headers, "tokens.issue")
    mine = http.get("/token", params={"email": "issuer-bot@example.org"}, headers=admin_headers).text
    other_subject = http.get("/token", params={"email": "issuer-bot-2@example.org"}, headers=admin_headers).text
    other_issuer = http.get("/token", params={"email": "issuer-bot@example.org"}, headers={"X-API-Key": other_key})
    assert other_issuer.status_code == 200
    assert len({mine, other_subject, other_issuer.text}) == 3
    assert all(HEX32.match(t) for t in (mine, other_subject, other_issuer.text))
    callers = [caller_of(http, {"Authorization": t}) for t in (mine, other_subject, other_issuer.text)]
    assert [c["subject"] for c in callers if isinstance(c, dict)] == [
        "issuer-bot@example.org",
        "issuer-bot-2@example.org",
        "issuer-bot@example.org",
    ]
    # Each issuer keeps getting its own.
    again = http.get("/token", params={"email": "issuer-bot@example.org"}, headers={"X-API-Key": other_key}).text
    assert again == other_issuer.text


async def _token_rows(database_url: str, subject: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = sa.text("SELECT * FROM auth_tokens WHERE subject = :subject")
            return list((await connection.execute(query, {"subject": subject})).all())
    finally:
        await engine.dispose()


def test_the_stored_row_does_not_contain_the_token(
    http: httpx.Client, admin_headers: dict[str, str], mesh: Mesh
) -> None:
    subject = "stored-bot@example.org"
    token = http.get("/token", params={"email": subject}, headers=admin_headers).text
    assert HEX32.match(token)
    rows = asyncio.run(_token_rows(mesh.database_url("auth"), subject))
    assert len(rows) == 1
    assert token not in repr(rows).lower()


def test_legacy_routes_answer_403_forbidden_for_bad_tokens(http: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "0" * 32}, {"Authorization": "Bearer " + "0" * 32}):
        response = http.get("/stats", headers=headers)
        assert response.status_code == 403
        assert response.json() == {"error": "forbidden"}


def test_legacy_allow_list_is_rate_limited_and_cannot_revoke_others(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    # A token handed out by a key holder …
    official = http.get("/token", params={"email": LEGACY_SUBJECT}, headers=admin_headers).text
    assert HEX32.match(official)
    # … survives the allow-listed bot's keyless renewal, which only replaces tokens given to its address.
    issued = [http.get(f"/token?email={LEGACY_SUBJECT}&renew") for _ in range(LEGACY_BURST)]
    assert [r.status_code for r in issued] == [200] * LEGACY_BURST
    assert all(HEX32.match(r.text) for r in issued)
    for token in (official, issued[-1].text):
        caller = caller_of(http, {"Authorization": token})
        assert isinstance(caller, dict) and caller["subject"] == LEGACY_SUBJECT
    assert http.get("/v1/caller", headers={"Authorization": issued[0].text}).status_code == 401
    limited = http.get("/token", params={"email": LEGACY_SUBJECT})
    assert limited.status_code == 429
    assert limited.json() == {"error": "rate limited"}


def test_failed_attempts_are_logged_with_address_and_reason_never_the_secret(http: httpx.Client, mesh: Mesh) -> None:
    secret = "f" * 32
    http.get("/v1/caller", headers={"Authorization": f"Bearer {secret}"})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        denials = [line for line in mesh.log_tail("auth", 400).splitlines() if '"auth.denied"' in line]
        if any('"reason": "unknown credential"' in line for line in denials):
            break
        time.sleep(0.1)
    # The newest such line is this test's (earlier tests also present unknown secrets).
    line = next(line for line in reversed(denials) if '"reason": "unknown credential"' in line)
    assert '"client_ip": "127.0.0.1"' in line and '"path": "/v1/caller"' in line
    assert secret not in mesh.log_tail("auth", 400)
