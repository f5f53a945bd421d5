"""Style-transfer engines: tensors and images in, images out; no HTTP, no SQL.

Import the submodules you need (``app.engine.api`` is the entry point); this package keeps
torch out of ``import app.engine`` so ``dreamgen --help`` stays fast.
"""
