"""The simulator's HTTP side: fal's queue, storage and CDN routes."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.fal.sim.faults import Fault, HttpFault
from adapters.fal.sim.host import RouteHost
from adapters.fal.sim.pricing import price_page
from adapters.fal.sim.state import SimRequest, StoredFile

Handler = Any


def build_app(sim: RouteHost) -> web.Application:
    routes = _Routes(sim)
    app = web.Application(middlewares=[routes.counting], client_max_size=256 * 1024 * 1024)
    queue = "/queue/{owner}/{alias}/requests/{request_id}"
    app.router.add_get(queue + "/status", routes.status)
    app.router.add_get(queue + "/status/stream", routes.stream)
    app.router.add_get(queue, routes.result)
    app.router.add_put(queue + "/cancel", routes.cancel)
    app.router.add_post("/queue/{endpoint:.+}", routes.submit)
    app.router.add_post("/rest/storage/auth/token", routes.token)
    app.router.add_post("/rest/storage/upload/initiate", routes.initiate)
    app.router.add_get("/rest/.well-known/jwks.json", routes.jwks)
    app.router.add_put("/gcs/{file_id}", routes.put)
    app.router.add_post("/cdn/files/upload", routes.cdn_upload)
    app.router.add_get("/cdn/files/{path:.+}", routes.cdn_get)
    app.router.add_get("/api/v1/models/pricing", routes.pricing)
    return app


def _json(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _fault_response(fault: Fault, request_id: str | None) -> web.Response:
    headers: dict[str, str] = {}
    if fault.fal_headers:
        if request_id:
            headers["x-fal-request-id"] = request_id
        if fault.error_type:
            headers["X-Fal-Error-Type"] = fault.error_type
    return _json(fault.body(), status=fault.status, headers=headers)


def _http_fault_response(fault: HttpFault) -> web.Response:
    status = fault.status or 500
    headers = dict(fault.headers)
    if fault.text is not None:
        return web.Response(
            text=fault.text, status=status, headers=headers, content_type="text/html"
        )
    body = fault.body if fault.body is not None else {"detail": "Simulated failure"}
    return _json(body, status=status, headers=headers)


class _Routes:
    def __init__(self, sim: RouteHost) -> None:
        self.sim = sim

    @web.middleware
    async def counting(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.sim.http_total += 1
        response: web.StreamResponse = await handler(request)
        return response

    async def _enter(
        self, request: web.Request, route: str, *, auth: bool = True
    ) -> web.StreamResponse | HttpFault | None:
        """Count the call, check the key, and apply an injected fault; a response ends it.

        A stream's `drop` fault is handed back for the stream to apply after its first event.
        """
        self.sim.count(route, request.match_info.get("request_id"))
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer is not None:
            self.sim.queue_connections.add((str(peer[0]), int(peer[1])))
        if auth and not self.sim.authorized(request.headers.get("Authorization")):
            return _json({"detail": "No user found for Key ID and Secret"}, status=401)
        fault = self.sim.take_http_fault(route)
        if fault is None:
            return None
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            if route == "stream":
                return fault
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        if fault.status is None:
            return None
        return _http_fault_response(fault)

    async def _gate(
        self, request: web.Request, route: str, *, auth: bool = True
    ) -> web.StreamResponse | None:
        early = await self._enter(request, route, auth=auth)
        return early if isinstance(early, web.StreamResponse) else None

    def _find(self, request: web.Request) -> SimRequest | None:
        req = self.sim.requests.get(request.match_info["request_id"])
        app = f"{request.match_info['owner']}/{request.match_info['alias']}"
        return req if req is not None and req.app == app else None

    def _response_url(self, req: SimRequest) -> str:
        return f"{self.sim.queue_url}/{req.app}/requests/{req.id}"

    # -- queue -----------------------------------------------------------------------------

    async def submit(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "submit")) is not None:
            return early
        endpoint = request.match_info["endpoint"].strip("/")
        if endpoint.count("/") < 1:
            return _json({"detail": "Application not found"}, status=404)
        try:
            arguments = await request.json()
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            fault = Fault.validation("Input should be a valid dictionary", loc=("body",))
            return _fault_response(fault, None)
        outcome = self.sim.submit(endpoint, arguments, request.query.get("fal_webhook"))
        if isinstance(outcome, Fault):
            return _fault_response(outcome, None)
        req = outcome
        req.fal_headers = {
            k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-fal-")
        }
        self.sim.http_by_request[req.id]["submit"] += 1
        url = self._response_url(req)
        body = {
            "request_id": req.id,
            "response_url": url,
            "status_url": f"{url}/status",
            "cancel_url": f"{url}/cancel",
            "queue_position": self.sim.position_of(req),
        }
        return _json(body, headers={"x-fal-request-id": req.id})

    def _status_body(self, req: SimRequest, request: web.Request) -> dict[str, Any]:
        with_logs = request.query.get("logs", "false").lower() in ("true", "1")
        return req.status_body(
            position=self.sim.position_of(req),
            with_logs=with_logs,
            response_url=self._response_url(req),
        )

    async def status(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "status")) is not None:
            return early
        req = self._find(request)
        if req is None:
            return _json({"detail": "Request not found"}, status=404)
        status = 200 if req.state == "COMPLETED" else 202
        return _json(self._status_body(req, request), status=status)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        early = await self._enter(request, "stream")
        if isinstance(early, web.StreamResponse):
            return early
        drop = isinstance(early, HttpFault)
        req = self._find(request)
        if req is None or not self.sim.stream_enabled:
            return _json({"detail": "Not Found"}, status=404)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            await self._send_statuses(request, response, req, drop=drop)
        except ConnectionResetError:
            pass  # the client went away: nothing to tell it
        return response

    async def _send_statuses(
        self, request: web.Request, response: web.StreamResponse, req: SimRequest, *, drop: bool
    ) -> None:
        last: dict[str, Any] | None = None
        while not self.sim.closing:
            changed = self.sim.changed
            body = self._status_body(req, request)
            if body != last:
                await response.write(f"data: {json.dumps(body)}\n\n".encode())
                last = body
                if drop and request.transport is not None:
                    request.transport.close()
                    return
            if req.state == "COMPLETED":
                break
            try:
                await asyncio.wait_for(changed.wait(), self.sim.stream_keepalive)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
        await response.write_eof()

    async def result(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "result")) is not None:
            return early
        req = self._find(request)
        if req is None:
            return _json({"detail": "Request not found"}, status=404)
        if req.state != "COMPLETED":
            return _json({"detail": "Request is still in progress"}, status=400)
        if req.fault is not None:
            return _fault_response(req.fault, req.id)
        return _json(req.output, headers={"x-fal-request-id": req.id})

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "cancel")) is not None:
            return early
        req = self._find(request)
        if req is None:
            return _json({"detail": "Request not found"}, status=404)
        if self.sim.cancel(req):
            return _json({"status": "CANCELLATION_REQUESTED"}, status=202)
        return _json({"status": "ALREADY_COMPLETED"}, status=400)

    async def jwks(self, request: web.Request) -> web.StreamResponse:
        """The webhook signing keys, public and unauthenticated as fal serves them."""
        return _json(self.sim.webhooks.jwks())

    # -- storage ---------------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "token")) is not None:
            return early
        if request.query.get("storage_type") != "fal-cdn-v3":
            return _json({"detail": "Unsupported storage type"}, status=400)
        token = secrets.token_urlsafe(24)
        self.sim.tokens.add(token)
        expires = datetime.now(UTC) + timedelta(hours=1)
        body = {
            "token": token,
            "token_type": "Bearer",
            "base_url": self.sim.cdn_url,
            "expires_at": expires.isoformat(),
        }
        return _json(body)

    async def cdn_upload(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "cdn_upload", auth=False)) is not None:
            return early
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.sim.tokens:
            return _json({"detail": "Invalid token"}, status=401)
        data = await request.read()
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        name = _file_name(request.headers.get("X-Fal-File-Name"), content_type)
        url = self.sim.store_file(data, content_type, name)
        return _json({"access_url": url, "content_type": content_type, "file_name": name})

    async def initiate(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "initiate")) is not None:
            return early
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _json({"detail": "Invalid body"}, status=422)
        content_type = str(body.get("content_type") or "application/octet-stream")
        name = _file_name(body.get("file_name"), content_type)
        file_id, signature = uuid.uuid4().hex, secrets.token_urlsafe(16)
        path = f"up/{file_id}/{name}"
        self.sim.pending_puts[file_id] = (signature, path, content_type)
        return _json(
            {
                "upload_url": f"{self.sim.base_url}/gcs/{file_id}?signature={signature}",
                "file_url": self.sim.file_url(path),
            }
        )

    async def put(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "put", auth=False)) is not None:
            return early
        pending = self.sim.pending_puts.get(request.match_info["file_id"])
        if pending is None or request.query.get("signature") != pending[0]:
            return web.Response(status=403, text="SignatureDoesNotMatch")
        del self.sim.pending_puts[request.match_info["file_id"]]
        self.sim.files[pending[1]] = StoredFile(pending[2], data=await request.read())
        return web.Response(status=200)

    async def cdn_get(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "cdn_get", auth=False)) is not None:
            return early
        stored = self.sim.files.get(request.match_info["path"])
        if stored is None:
            return web.Response(status=404, text="Not Found")
        data = await stored.read()
        return web.Response(body=data, headers={"Content-Type": stored.content_type})

    # -- api.fal.ai --------------------------------------------------------------------------

    async def pricing(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._gate(request, "pricing")) is not None:
            return early
        if not self.sim.pricing_access:
            return _json({"detail": "This key may not read pricing"}, status=403)
        ids = [e for v in request.query.getall("endpoint_id", []) for e in v.split(",") if e]
        if not ids:
            return _json({"detail": "endpoint_id is required"}, status=422)
        page = price_page(
            self.sim.prices,
            ids,
            cursor=request.query.get("cursor"),
            page_size=self.sim.price_page_size,
        )
        if page is None:
            return _json({"detail": "Invalid cursor"}, status=400)
        return _json(page)


def _file_name(given: Any, content_type: str) -> str:
    if isinstance(given, str) and re.fullmatch(r"[\w.-]{1,100}", given):
        return given
    ext = mimetypes.guess_extension(content_type.split(";", maxsplit=1)[0].strip()) or ".bin"
    return f"upload{ext}"
