"""The one settings object, read from ``DREAMGEN_*`` environment variables.

Defaults work on a laptop: a SQLite file and a media folder under one data directory,
the GPU when there is one, else the CPU.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    """Per-user cache for downloaded weights (``$XDG_CACHE_HOME/dreamgen/weights``)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dreamgen" / "weights"


class Settings(BaseSettings):
    """Every knob of dreamgen. Each field is documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="DREAMGEN_", extra="ignore")

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Folder for the SQLite file and media.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    media_dir: Path | None = Field(None, description="Uploads and results; default data_dir/media.")

    # --- weights -------------------------------------------------------------------------
    weights_dir: Path | None = Field(None, description="Folder searched first for model weights.")
    weights_cache_dir: Path = Field(default_factory=_default_cache_dir,
                                    description="Where downloads go.")
    offline: bool = Field(False, description="Never download weights, even on request.")
    weights_mirror: str = Field("", description="URL prefix (http:// or file://) that replaces "
                                "the public weight URLs, e.g. a company mirror.")

    # --- compute -------------------------------------------------------------------------
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    engine_plugins: str = Field("", description="Extra engines: comma-separated "
                                "module:NAME, each NAME an EngineSpec or a tuple of them.")
    workers: int = Field(0, description="Worker threads; 0 means one per GPU, or one on CPU.")
    run_worker: bool = Field(True, description="Start the worker thread(s) with the web app.")

    # --- server --------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8000, description="Port the server listens on.")
    public_url: str = Field("", description="Absolute base URL for share-card meta tags.")
    trusted_proxies: str = Field("", description="Comma-separated addresses (or networks) of "
                                 "reverse proxies whose X-Forwarded-For/-Proto are believed; "
                                 "empty: none.")
    admin_token: str = Field("", description="Token for the admin page (at least 16 "
                             "characters); empty: the studio makes one in data_dir/admin-token.")

    # --- accounts (optional: anonymous use needs none) ---------------------------------
    signup: Literal["open", "invite", "closed"] = Field(
        "open", description="Who may make an account: open (anyone), invite (with a "
        "one-time link from the admin) or closed (nobody new).")
    session_days: int = Field(30, ge=1, le=365, description="A sign-in lasts this many "
                              "days (then the browser signs in again).")

    # --- limits --------------------------------------------------------------------------
    max_upload_mb: int = Field(200, description="Largest accepted upload, in MiB.")
    max_image_megapixels: float = Field(40.0, description="Largest accepted image.")
    max_output_side: int = Field(2048, description="Largest output side a user may ask for.")
    max_enhance_side: int = Field(4096, ge=64, description="Largest side Enhance makes: each "
                                  "Enhance doubles a picture's longer side up to this.")
    max_video_seconds: float = Field(120.0, description="Longest accepted video clip.")
    max_video_frames: int = Field(3600, description="Most frames accepted in a clip.")
    max_video_side: int = Field(1920, description="Largest accepted video frame side.")
    video_segment_seconds: float = Field(8.0, ge=0.5, le=600.0,
                                         description="Clips are made in committed segments of "
                                         "about this length: a crash costs at most this much.")
    parallel_segments: bool = Field(True, description="While more than one worker is alive, "
                                    "a clip is cut into pieces of DREAMGEN_VIDEO_SEGMENT_SECONDS "
                                    "that every free worker makes at once (docs/scaling.md).")
    max_attempts: int = Field(3, description="Runs of a job interrupted by crashes before it fails.")
    job_stall_seconds: float = Field(600.0, ge=0.0, description="An engine that reports nothing "
                                     "for this long is taken as hung: its process is killed "
                                     "and the job retried or failed as after a crash (0: "
                                     "wait for ever).")
    lease_seconds: float = Field(60.0, ge=3.0, description="A worker whose heartbeat is older "
                                 "than this has lost its jobs: live workers take them over "
                                 "(heartbeats every third of it).")
    # --- fast models (training) --------------------------------------------------------
    train_photos_dir: Path | None = Field(None, description="Folder of photos fast models "
                                          "train on (e.g. a photo collection); unset: the "
                                          "owner's own uploads plus the bundled sample photos.")
    max_train_steps: int = Field(20000, ge=1, description="Most training steps a person may "
                                 "ask for on the pages and the API.")
    train_checkpoint_steps: int = Field(100, ge=1, description="A training commits a "
                                        "checkpoint every this many steps: a crash or a "
                                        "restart costs at most this many.")
    train_preview_steps: int = Field(200, ge=1, description="A training paints its preview "
                                     "photo every this many steps.")
    max_model_mb: float = Field(64.0, gt=0.0, description="Largest model file accepted "
                                "(imports, and every model read), in MiB.")
    min_free_disk_mb: int = Field(500, description="Uploads are refused below this free space.")
    max_queued_minutes_per_person: float = Field(
        120.0, ge=0.0, description="Expected minutes of work one person may have waiting "
        "(queued, plus what their running jobs still need); beyond it a new job is refused "
        "(0: no cap).")
    rate_limit_per_minute: int = Field(20, description="Jobs one client may create per minute.")
    body_idle_seconds: float = Field(15.0, gt=0.0, description="A request body that sends "
                                     "nothing for this long is refused (408); it must also "
                                     "average body_min_kib_per_second once this long has "
                                     "passed.")
    body_min_kib_per_second: float = Field(1.0, ge=0.0, description="Slowest average a "
                                           "request body may arrive at, in KiB/s (0: no "
                                           "minimum).")
    max_connections_per_client: int = Field(100, ge=0, description="Open connections one "
                                            "client address may hold (trusted proxies are "
                                            "exempt; 0: no limit).")
    max_event_streams_per_client: int = Field(20, ge=0, description="Live progress streams "
                                              "one client address may hold (0: no limit).")
    # --- batches (many photos at once, or one ZIP of them) ---------------------------------
    max_batch_photos: int = Field(100, ge=1, description="Most photos in one batch (files "
                                  "sent, or members of its ZIP); more is refused (413).")
    max_batch_upload_mb: int = Field(1000, ge=1, description="Largest batch request (all "
                                     "its photos, or its ZIP), in MiB; each photo also "
                                     "keeps to max_upload_mb.")
    max_zip_unpacked_mb: int = Field(2000, ge=1, description="Most a batch's ZIP may unpack "
                                     "to, in MiB, by its members' declared sizes and by what "
                                     "really comes out; beyond it the ZIP is refused (413).")
    max_zip_ratio: float = Field(20.0, ge=1.0, description="Largest unpacked-to-packed size "
                                 "ratio of a ZIP member over 1 MiB (photos barely compress; "
                                 "a bomb does by thousands); beyond it the ZIP is refused "
                                 "(413).")
    upload_checks: int = Field(2, ge=1, description="Uploads checked (decoded in a child "
                               "process) at once; the rest wait in line.")
    upload_check_wait_seconds: float = Field(120.0, gt=0.0, description="Longest an upload "
                                             "waits in line for its check before a 503.")

    @model_validator(mode="after")
    def _fill_derived_paths(self) -> "Settings":
        if self.media_dir is None:
            self.media_dir = self.data_dir / "media"
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'dreamgen.db').as_posix()}"
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` and pass it in)."""
    return Settings()
