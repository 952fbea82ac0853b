"""Global rate limiting for the gateway: the service Envoy's ``envoy.filters.http.ratelimit`` consults.

``domain`` holds the strategies (token bucket, fixed window, sliding window, GCRA) and the rules;
``rules`` reads and validates the YAML rules file; ``adapters`` are the counter stores (in memory,
Redis); ``limiter`` applies the rules to one request with bounded time and per-rule failure modes;
``api`` answers Envoy (``ShouldRateLimit``) and the admin RPCs. See docs/ratelimit.md.
"""
