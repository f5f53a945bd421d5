"""The engines, one home each.

Every engine is a package here whose ``__init__`` declares its :class:`~app.engine.spec.EngineSpec`
(plain words, weight files with their URLs and SHA-256, work units, quality choices, entry
points) without importing torch; its networks and maths live in the package's other
modules, loaded when a job runs. :mod:`app.engine.registry` lists the specs, one line each.
"""
