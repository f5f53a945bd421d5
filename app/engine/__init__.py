"""Style-transfer engines: tensors and images in, images out; no HTTP, no SQL.

``registry`` lists the engines, ``options`` is the options schema, ``types`` the shared types,
``weights`` finds verified checkpoints and ``dispatch`` runs an engine. This package keeps
torch out of ``import app.engine`` so ``dreamgen --help`` stays fast.
"""
