"""Security headers on every response of the console and API.

The console is server-rendered HTML with one script file and no third-party content, so
the policy can be strict: scripts and everything else only from this origin, no framing
(clickjacking: CSP frame-ancestors plus X-Frame-Options for old browsers), no MIME
sniffing, no referrer leaking kiosk ids to other sites. Inline `style` attributes are
allowed (the health chart's legend colours); inline scripts are not.
"""

from __future__ import annotations

from starlette.middleware.base import BaseHTTPMiddleware

HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                                "frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
