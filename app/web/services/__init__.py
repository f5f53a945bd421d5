"""Per-process services the routers share: the progress feed, upload-check turns, fair render slots, weight downloads."""
