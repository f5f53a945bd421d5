"""Plain-ASGI middlewares: headers, owner cookies, request ids, bodies guarded while they stream."""
