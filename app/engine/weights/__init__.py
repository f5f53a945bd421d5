"""Model weights: the store that finds verified copies (:mod:`.store`), downloads and imports
(:mod:`.downloads`), the one checkpoint loader (:mod:`.checkpoints`), and the weights that
ship inside the package (``bundled/``)."""
