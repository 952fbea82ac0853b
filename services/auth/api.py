"""gRPC face of the auth service: AuthService for clients, Authorization for Envoy's ext_authz."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import grpc
import structlog
from google.api import httpbody_pb2
from google.rpc import code_pb2, status_pb2
from opentelemetry import metrics

from clearframe.auth.v1 import auth_pb2, auth_pb2_grpc
from clearframe_runtime.access import Dialect, RestRouter, Rule, rest_routes, rule_for
from clearframe_runtime.errors import FailedPrecondition, NotFound, PermissionDenied
from clearframe_runtime.principal import (
    KIND_ANONYMOUS,
    KIND_API_KEY,
    KIND_REVIEW_SESSION,
    KIND_TOKEN,
    PRINCIPAL_HEADER,
    RATE_LIMIT_API_KEY_HEADER,
    RATE_LIMIT_SUBJECT_HEADER,
    SIGNATURE_HEADER,
    Principal,
    PrincipalCodec,
)
from clearframe_runtime.protoconv import field_datetime, optional_timestamp
from envoycompat import ext_authz_pb2, ext_authz_pb2_grpc
from services.auth.domain import AuthFailure, Authority, PresentedCredential, is_active, parse_credential
from services.auth.ports import ApiKeyRecord, FailedAuthLimit, RateLimited, TokenRecord
from services.auth.sessions import (
    CSRF_HEADER,
    SAFE_METHODS,
    ReviewSessions,
    SessionClaims,
    cookie_from_header,
    session_permissions,
)

log = structlog.get_logger(__name__)
meter = metrics.get_meter("clearframe.auth")
#: Gateway requests authorized (``allowed``, by the principal's kind) or refused (``denied``, by reason).
#: Refusals are answers, not errors, of the ext_authz RPC: the RED metrics do not show them.
auth_decisions = meter.create_counter(
    "clearframe.auth.decisions", unit="{request}", description="ext_authz answers: allowed or denied"
)

ERROR_INFO = "google.rpc.ErrorInfo"
HEADERS_TO_STRIP = ("authorization", "x-api-key", CSRF_HEADER)
#: The review page's files (plain HTML, CSS, JavaScript; no build step).
REVIEW_PAGE_DIR = Path(__file__).parent / "review_page"
_PAGE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: Nothing inline, nothing from elsewhere: scripts, styles, images and requests of this origin only.
REVIEW_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

_KINDS = {
    KIND_ANONYMOUS: auth_pb2.CREDENTIAL_KIND_ANONYMOUS,
    KIND_TOKEN: auth_pb2.CREDENTIAL_KIND_TOKEN,
    KIND_API_KEY: auth_pb2.CREDENTIAL_KIND_API_KEY,
    KIND_REVIEW_SESSION: auth_pb2.CREDENTIAL_KIND_REVIEW_SESSION,
}


def token_message(record: TokenRecord) -> auth_pb2.Token:
    return auth_pb2.Token(
        token_id=record.token_id,
        subject=record.subject,
        create_time=optional_timestamp(record.created_at),
        expire_time=optional_timestamp(record.expires_at),
        revoke_time=optional_timestamp(record.revoked_at),
        issued_by=record.issued_by,
        last_used_time=optional_timestamp(record.last_used_at),
        last_used_ip=record.last_used_ip,
    )


def api_key_message(record: ApiKeyRecord) -> auth_pb2.ApiKey:
    return auth_pb2.ApiKey(
        key_id=record.key_id,
        display_name=record.display_name,
        permissions=sorted(record.permissions),
        create_time=optional_timestamp(record.created_at),
        expire_time=optional_timestamp(record.expires_at),
        revoke_time=optional_timestamp(record.revoked_at),
        rotate_time=optional_timestamp(record.rotated_at),
        last_used_time=optional_timestamp(record.last_used_at),
        last_used_ip=record.last_used_ip,
        created_by=record.created_by,
    )


def caller_message(principal: Principal) -> auth_pb2.Caller:
    return auth_pb2.Caller(
        subject=principal.subject,
        kind=_KINDS.get(principal.kind, auth_pb2.CREDENTIAL_KIND_UNSPECIFIED),
        permissions=sorted(principal.permissions),
        client_ip=principal.client_ip,
    )


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Tokens, API keys, the caller, and the seed's `GET /token`.

    Who may call what is decided before these methods run (:mod:`clearframe_runtime.access`); they
    read the verified caller only to record who acted.
    """

    def __init__(
        self,
        authority: Authority,
        codec: PrincipalCodec,
        sessions: ReviewSessions | None = None,
        page_dir: Path = REVIEW_PAGE_DIR,
    ):
        self._authority = authority
        self._codec = codec
        self._sessions = sessions
        self._page = {
            f.name: (f.read_bytes(), _PAGE_TYPES[f.suffix])
            for f in sorted(page_dir.glob("*"))
            if f.is_file() and f.suffix in _PAGE_TYPES
        }

    async def IssueToken(
        self, request: auth_pb2.IssueTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.IssueTokenResponse:
        caller = self._codec.caller(context)
        ttl = request.ttl.ToTimedelta() if request.HasField("ttl") else None
        secret, record = await self._authority.issue_token(
            request.subject, issued_by=caller.subject, ttl=ttl, replace_existing=request.replace_existing
        )
        log.info("token.issued", subject=record.subject, token_id=record.token_id, by=caller.subject)
        return auth_pb2.IssueTokenResponse(token=secret, token_info=token_message(record))

    async def ListTokens(
        self, request: auth_pb2.ListTokensRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListTokensResponse:
        records, next_token = await self._authority.list_tokens(
            subject=request.subject,
            show_inactive=request.show_inactive,
            page_token=request.page_token,
            size=request.page_size,
        )
        return auth_pb2.ListTokensResponse(tokens=[token_message(r) for r in records], next_page_token=next_token)

    async def RevokeToken(
        self, request: auth_pb2.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeTokenResponse:
        caller = self._codec.caller(context)
        record = await self._authority.revoke_token(request.token_id)
        log.info("token.revoked", token_id=record.token_id, by=caller.subject)
        return auth_pb2.RevokeTokenResponse(token=token_message(record))

    async def RenewToken(
        self, request: auth_pb2.RenewTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RenewTokenResponse:
        caller = self._codec.caller(context)
        secret, record = await self._authority.renew_token(request.token_id, issued_by=caller.subject)
        log.info("token.renewed", old_token_id=request.token_id, token_id=record.token_id, by=caller.subject)
        return auth_pb2.RenewTokenResponse(token=secret, token_info=token_message(record))

    async def ValidateToken(
        self, request: auth_pb2.ValidateTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ValidateTokenResponse:
        caller = self._codec.caller(context)
        result = await self._authority.authenticate(request.secret, caller.client_ip)
        if isinstance(result, AuthFailure):
            return auth_pb2.ValidateTokenResponse(valid=False)
        return auth_pb2.ValidateTokenResponse(valid=True, caller=caller_message(result))

    async def CreateApiKey(
        self, request: auth_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateApiKeyResponse:
        caller = self._codec.caller(context)
        key = request.api_key
        expires = field_datetime(key, "expire_time")
        secret, record = await self._authority.create_api_key(
            key.display_name, list(key.permissions), expires, caller.subject
        )
        log.info("api_key.created", key_id=record.key_id, permissions=sorted(record.permissions), by=caller.subject)
        return auth_pb2.CreateApiKeyResponse(secret=secret, api_key=api_key_message(record))

    async def GetApiKey(
        self, request: auth_pb2.GetApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetApiKeyResponse:
        return auth_pb2.GetApiKeyResponse(api_key=api_key_message(await self._authority.get_api_key(request.key_id)))

    async def ListApiKeys(
        self, request: auth_pb2.ListApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListApiKeysResponse:
        records, next_token = await self._authority.list_api_keys(
            show_inactive=request.show_inactive, page_token=request.page_token, size=request.page_size
        )
        return auth_pb2.ListApiKeysResponse(api_keys=[api_key_message(r) for r in records], next_page_token=next_token)

    async def RevokeApiKey(
        self, request: auth_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeApiKeyResponse:
        caller = self._codec.caller(context)
        record = await self._authority.revoke_api_key(request.key_id)
        log.info("api_key.revoked", key_id=record.key_id, by=caller.subject)
        return auth_pb2.RevokeApiKeyResponse(api_key=api_key_message(record))

    async def RotateApiKey(
        self, request: auth_pb2.RotateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RotateApiKeyResponse:
        caller = self._codec.caller(context)
        secret, record = await self._authority.rotate_api_key(request.key_id)
        log.info("api_key.rotated", key_id=record.key_id, by=caller.subject)
        return auth_pb2.RotateApiKeyResponse(secret=secret, api_key=api_key_message(record))

    async def GetCaller(
        self, request: auth_pb2.GetCallerRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetCallerResponse:
        return auth_pb2.GetCallerResponse(caller=caller_message(self._codec.caller(context)))

    async def LegacyGetToken(
        self, request: auth_pb2.LegacyGetTokenRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        caller = self._codec.caller(context)
        answer = await self._authority.legacy_token(request.email, _asks_renewal(request, context), caller)
        if answer.status == 200:
            log.info(
                "token.issued",
                subject=request.email,
                by=caller.subject or f"legacy:{caller.client_ip}",
                route="/token",
            )
        else:
            log.warning("token.refused", status=answer.status, client_ip=caller.client_ip, route="/token")
        await context.send_initial_metadata((("x-http-status", str(answer.status)),))
        return httpbody_pb2.HttpBody(content_type=answer.content_type, data=answer.body.encode())

    # review page ------------------------------------------------------------------------------------

    def _session_book(self) -> ReviewSessions:
        if self._sessions is None:
            raise FailedPrecondition("review sessions are not enabled", reason="REVIEW_SESSIONS_DISABLED")
        return self._sessions

    async def CreateReviewSession(
        self, request: auth_pb2.CreateReviewSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateReviewSessionResponse:
        sessions = self._session_book()
        caller = self._codec.caller(context)
        if caller.kind == KIND_REVIEW_SESSION:
            raise PermissionDenied(
                "a review session cannot sign in again: present the API key", reason="SESSION_CANNOT_SIGN_IN"
            )
        issued = sessions.issue(caller.subject, caller.kind, caller.permissions)
        secure = sessions.secure_for(_metadata(context).get("x-forwarded-proto", ""))
        await context.send_initial_metadata((("set-cookie", sessions.set_cookie(issued, secure=secure)),))
        log.info("review_session.created", subject=caller.subject, client_ip=caller.client_ip)
        return auth_pb2.CreateReviewSessionResponse(session=_session_message(issued.claims, issued.csrf_token))

    async def GetReviewSession(
        self, request: auth_pb2.GetReviewSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetReviewSessionResponse:
        sessions = self._session_book()
        claims = self._own_session(sessions, context)
        return auth_pb2.GetReviewSessionResponse(session=_session_message(claims, sessions.csrf_token(claims)))

    async def DeleteReviewSession(
        self, request: auth_pb2.DeleteReviewSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.DeleteReviewSessionResponse:
        sessions = self._session_book()
        metadata = _metadata(context)
        value = cookie_from_header(metadata.get("cookie", ""))
        claims = sessions.verify(value) if value else None
        if claims is not None:
            sessions.revoke(claims)
            log.info("review_session.deleted", subject=claims.subject)
        secure = sessions.secure_for(metadata.get("x-forwarded-proto", ""))
        await context.send_initial_metadata((("set-cookie", sessions.clear_cookie(secure=secure)),))
        return auth_pb2.DeleteReviewSessionResponse()

    def _own_session(self, sessions: ReviewSessions, context: grpc.aio.ServicerContext) -> SessionClaims:
        caller = self._codec.caller(context)
        value = cookie_from_header(_metadata(context).get("cookie", ""))
        claims = sessions.verify(value) if value and caller.kind == KIND_REVIEW_SESSION else None
        if claims is None:
            raise FailedPrecondition("the caller did not sign in with a review session", reason="NOT_A_REVIEW_SESSION")
        return claims

    async def GetReviewPageFile(
        self, request: auth_pb2.GetReviewPageFileRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        found = self._page.get(request.name)
        if found is None:
            raise NotFound(f"the review page has no file {request.name[:64]!r}", reason="FILE_NOT_FOUND")
        data, content_type = found
        await context.send_initial_metadata(
            (
                ("content-security-policy", REVIEW_PAGE_CSP),
                ("x-content-type-options", "nosniff"),
                ("referrer-policy", "no-referrer"),
                ("x-frame-options", "DENY"),
                ("cache-control", "no-cache"),
            )
        )
        return httpbody_pb2.HttpBody(content_type=content_type, data=data)


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _session_message(claims: SessionClaims, csrf_token: str) -> auth_pb2.ReviewSession:
    message = auth_pb2.ReviewSession(
        subject=claims.subject, permissions=sorted(claims.permissions), csrf_token=csrf_token
    )
    message.expire_time.FromSeconds(int(claims.expires_at))
    return message


def _asks_renewal(request: auth_pb2.LegacyGetTokenRequest, context: grpc.aio.ServicerContext) -> bool:
    """The seed renews when `renew` is present at all — also bare (`?email=x&renew`), which the transcoder
    drops, so the original query (kept by Envoy in x-envoy-original-path) is read as well."""
    if request.HasField("renew"):
        return True
    original = dict(context.invocation_metadata() or ()).get("x-envoy-original-path", "")
    query = original.partition("?")[2] if isinstance(original, str) else ""
    return "renew" in parse_qs(query, keep_blank_values=True)


def _header(key: str, value: str) -> ext_authz_pb2.CompatHeaderValueOption:
    return ext_authz_pb2.CompatHeaderValueOption(
        header=ext_authz_pb2.CompatHeaderValue(key=key, value=value),
        append_action=ext_authz_pb2.CompatHeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
    )


def _denial(rule: Rule | None, grpc_call: bool, *, reason: str, message: str) -> ext_authz_pb2.CheckResponse:
    """A 401 in the dialect of the route (its access rule says which): seed 000, MuseNest or Clearframe's."""
    status, body = 401, dict[str, object]()
    dialect = rule.dialect if rule is not None else Dialect.CLEARFRAME
    if dialect is Dialect.SEED_000 and not grpc_call:
        # The bot renews its token on a 403, SuperVisOr retries with `Bearer` on 401/403: the seed's 403.
        status, body = 403, {"error": "forbidden"}
    elif dialect is Dialect.MUSENEST and not grpc_call:
        code = {"MISSING_CREDENTIALS": "MISSING_API_KEY", "INVALID_CREDENTIALS": "INVALID_API_KEY"}.get(reason, reason)
        body = {"success": False, "error": message, "code": code}
    else:
        body = {
            "code": code_pb2.UNAUTHENTICATED,
            "message": message,
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "clearframe"}
            ],
        }
    grpc_code = code_pb2.UNAUTHENTICATED if status == 401 else code_pb2.PERMISSION_DENIED
    return ext_authz_pb2.CheckResponse(
        status=status_pb2.Status(code=grpc_code, message=message),
        denied_response=ext_authz_pb2.DeniedHttpResponse(
            status=ext_authz_pb2.CompatHttpStatus(code=status),
            headers=[_header("content-type", "application/json")],
            body=json.dumps(body, separators=(",", ":")),
        ),
    )


def _forbidden(*, reason: str, message: str) -> ext_authz_pb2.CheckResponse:
    body = {
        "code": code_pb2.PERMISSION_DENIED,
        "message": message,
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "clearframe"}],
    }
    return ext_authz_pb2.CheckResponse(
        status=status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message=message),
        denied_response=ext_authz_pb2.DeniedHttpResponse(
            status=ext_authz_pb2.CompatHttpStatus(code=403),
            headers=[_header("content-type", "application/json")],
            body=json.dumps(body, separators=(",", ":")),
        ),
    )


def _rate_limited(limited: RateLimited) -> ext_authz_pb2.CheckResponse:
    """429 with the gateway limiter's headers and body: too many failed authentications from an address."""
    headers = [_header(k, v) for k, v in limited.headers if k != "content-type"]
    return ext_authz_pb2.CheckResponse(
        status=status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message="too many failed authentications"),
        denied_response=ext_authz_pb2.DeniedHttpResponse(
            status=ext_authz_pb2.CompatHttpStatus(code=429),
            headers=[_header("content-type", "application/json"), *headers],
            body=limited.body,
        ),
    )


class ExtAuthzServicer(ext_authz_pb2_grpc.AuthorizationServicer):
    """Envoy's ext_authz: authenticate, then forward a signed principal; 401/403 otherwise.

    Which RPC a request is for, and so whether it is public and in which dialect it is refused, comes
    from the access table and the contracts' HTTP bindings (:mod:`clearframe_runtime.access`). A REST
    request that matches no binding is never refused here, whatever its credentials: the gateway then
    answers 404 ``{"error":"not found"}`` as for any unknown path, and nothing is reached that way —
    every service checks the principal again.

    With ``failures`` (the gateway's limit on failed authentications per address), an address over that
    limit is answered 429 before its secret is even checked, so guessing stops paying off; each failure
    is counted there (``__main__`` wraps it in :class:`~services.auth.adapters.ratelimit.RememberedClear`).
    """

    def __init__(
        self,
        authority: Authority,
        codec: PrincipalCodec,
        router: RestRouter | None = None,
        failures: FailedAuthLimit | None = None,
        sessions: ReviewSessions | None = None,
    ):
        self._authority = authority
        self._codec = codec
        self._router = router or RestRouter(rest_routes())
        self._failures = failures
        self._sessions = sessions

    async def Check(
        self, request: ext_authz_pb2.CheckRequest, context: grpc.aio.ServicerContext
    ) -> ext_authz_pb2.CheckResponse:
        http = request.attributes.request.http
        headers = dict(http.headers)
        client_ip = request.attributes.source.address.socket_address.address
        path, _, query = http.path.partition("?")
        grpc_call = headers.get("content-type", "").startswith("application/grpc")
        anonymous = Principal("", KIND_ANONYMOUS, frozenset(), client_ip)
        credential = parse_credential(headers, query)
        if grpc_call:
            rule = rule_for(path)
        else:
            route = self._router.match(http.method, path)
            if route is None:
                return await self._unbound(credential, anonymous, path, http.method)
            rule = route.rule

        if credential is None and not grpc_call and self._sessions is not None:
            cookie = cookie_from_header(headers.get("cookie", ""))
            if cookie is not None:
                return await self._session(cookie, rule, http.method, headers, anonymous, path)

        if credential is None:
            if rule is not None and rule.public:
                return self._allow(anonymous)
            auth_decisions.add(1, {"decision": "denied", "reason": "MISSING_CREDENTIALS", "source": "none"})
            log.warning("auth.denied", reason="no credentials", client_ip=client_ip, path=path, method=http.method)
            return _denial(
                rule,
                grpc_call,
                reason="MISSING_CREDENTIALS",
                message="credentials are required: Authorization: Bearer <token or key> or X-API-Key",
            )

        if self._failures is not None and (limited := await self._failures.blocked(client_ip)) is not None:
            log.warning("auth.denied", reason="too many failed authentications", client_ip=client_ip, path=path)
            return _rate_limited(limited)
        result = await self._authority.authenticate(credential.secret, client_ip)
        if isinstance(result, AuthFailure):
            auth_decisions.add(
                1, {"decision": "denied", "reason": "INVALID_CREDENTIALS", "source": credential.source.value}
            )
            log.warning(
                "auth.denied",
                reason=result.reason,
                source=credential.source.value,
                client_ip=client_ip,
                path=path,
                method=http.method,
            )
            if self._failures is not None and (limited := await self._failures.failed(client_ip)) is not None:
                return _rate_limited(limited)
            return _denial(
                rule, grpc_call, reason="INVALID_CREDENTIALS", message="the credentials are invalid, expired or revoked"
            )
        return self._allow(result)

    async def _session(
        self,
        cookie: str,
        rule: Rule | None,
        method: str,
        headers: dict[str, str],
        anonymous: Principal,
        path: str,
    ) -> ext_authz_pb2.CheckResponse:
        """A request with the review page's session cookie (and no other credential)."""
        assert self._sessions is not None
        claims = self._sessions.verify(cookie)
        principal = await self._session_principal(claims, anonymous.client_ip) if claims is not None else None
        if claims is None or principal is None:
            if rule is not None and rule.public:
                return self._allow(anonymous)
            log.warning("auth.denied", reason="review session invalid", client_ip=anonymous.client_ip, path=path)
            return _denial(rule, False, reason="SESSION_EXPIRED", message="the review session has ended: sign in again")
        if method.upper() not in SAFE_METHODS and not self._sessions.csrf_ok(claims, headers.get(CSRF_HEADER, "")):
            log.warning("auth.denied", reason="csrf token missing or wrong", client_ip=anonymous.client_ip, path=path)
            return _forbidden(
                reason="CSRF_TOKEN_INVALID",
                message="a request with the review session cookie must carry its X-CSRF-Token",
            )
        return self._allow(principal)

    async def _session_principal(self, claims: SessionClaims, client_ip: str) -> Principal | None:
        """The session's principal; a session from an API key lasts only while the key is active."""
        permissions = claims.permissions
        if claims.source_kind == KIND_API_KEY and claims.subject.startswith("apikey:"):
            try:
                record = await self._authority.get_api_key(claims.subject.removeprefix("apikey:"))
            except NotFound:
                return None
            if not is_active(record.expires_at, record.revoked_at, self._authority.now()):
                return None
            permissions = permissions & session_permissions(record.permissions)
        if "moderation.read" not in permissions:
            return None
        return Principal(claims.subject, KIND_REVIEW_SESSION, permissions, client_ip)

    async def _unbound(
        self, credential: PresentedCredential | None, anonymous: Principal, path: str, method: str
    ) -> ext_authz_pb2.CheckResponse:
        """A REST path no binding matches: never refused here, so the gateway answers its 404.

        Valid credentials still travel on as the caller's principal, in case the transcoder maps a
        spelling this router does not know onto an RPC; that RPC's own check then decides.
        """
        if credential is None:
            return self._allow(anonymous)
        result = await self._authority.authenticate(credential.secret, anonymous.client_ip)
        if isinstance(result, AuthFailure):
            log.warning(
                "auth.unrecognized",
                reason=result.reason,
                source=credential.source.value,
                client_ip=anonymous.client_ip,
                path=path,
                method=method,
            )
            return self._allow(anonymous)
        return self._allow(result)

    def _allow(self, principal: Principal) -> ext_authz_pb2.CheckResponse:
        auth_decisions.add(1, {"decision": "allowed", "principal_kind": principal.kind})
        value, signature = self._codec.encode(principal)
        headers = [_header(PRINCIPAL_HEADER, value), _header(SIGNATURE_HEADER, signature)]
        # The gateway's rate limits count per principal and per API key (descriptor entries from these).
        if principal.authenticated:
            headers.append(_header(RATE_LIMIT_SUBJECT_HEADER, principal.subject))
        # A review session made from a key counts as that key.
        if principal.kind in (KIND_API_KEY, KIND_REVIEW_SESSION) and principal.subject.startswith("apikey:"):
            headers.append(_header(RATE_LIMIT_API_KEY_HEADER, principal.subject.removeprefix("apikey:")))
        return ext_authz_pb2.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=ext_authz_pb2.OkHttpResponse(headers=headers, headers_to_remove=list(HEADERS_TO_STRIP)),
        )


__all__ = ["AuthServicer", "ExtAuthzServicer"]
