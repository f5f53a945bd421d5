"""The routers: each turns requests into calls on the helpers and services beside them (never into another router)."""
