"""Video: check uploads (:mod:`app.video.probe`), stylise clips (:mod:`app.video.pipeline`),
keep them from flickering and measure it (:mod:`app.video.temporal`).

``probe`` imports only PyAV, so the web layer can validate uploads without loading torch.
"""
