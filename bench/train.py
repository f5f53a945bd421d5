"""Fast models on this machine: training speed, painting speed beside MicroAST and AdaIN, and
what a short training buys in style and content loss on photos it has never seen.

    .venv/bin/python -m bench.train [--steps 300] [--size 128] [--images docs/img]

1. Training steps per second at 256 px (4 crops a step, width 16, the defaults), for a new
   network and for a style added to a trained one (its convolutions frozen).
2. Milliseconds per 512x512 picture and frames per second of a 512x288 clip (24 frames,
   flicker stabilisation on) for the trained model, MicroAST and AdaIN.
3. One network of two styles (Hubble deep field, a stained tissue slide) trained for
   ``--steps`` steps at ``--size`` px crops on the three sample photos that ship with
   dreamgen (a cat, a coffee cup, a rocket launch); then the Gram style loss and the relu4_2
   content loss (both on the pruned VGG-19, :func:`measured_losses`) on two photos that are
   NOT among them (an astronaut's portrait, a fundus photograph) at ``--eval-side`` px,
   beside AdaIN (the CD-16x pair: :mod:`bench.train_baselines`), MicroAST and gatys-lite.
4. Adding a third style (a brick texture) to that network with the convolutions frozen,
   against training it into a new network, for the same steps: seconds and losses.
5. The photo count: the Hubble style trained on one sample photo against all three, each
   judged on the unseen photos.

``--images DIR`` also writes the docs' pictures: the same unseen photo by each engine side
by side, and a frame of a clip painted by the trained model.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import av
import torch
from PIL import Image

from app.engine.dispatch import make_frame_stylizer, stylize_image
from app.engine.feedforward import prepare_style
from app.engine.images import load_image, pil_to_tensor, resize_to_fit
from app.engine.methods.adain.stylizer import AdaINStylizer
from app.engine.methods.trained import TRAINING_FILES
from app.engine.methods.trained.losses import measured_losses
from app.engine.methods.trained.model_file import header_for, model_bytes
from app.engine.methods.trained.photos import PhotoSet, load_photos, sample_photos
from app.engine.methods.trained.train_options import TrainOptions
from app.engine.methods.trained.training import (
    Trainer,
    extend_network,
    new_network,
    targets,
)
from app.engine.networks.pruned_vgg import PrunedVGG, load_pruned_encoders
from app.engine.options import StyleOptions
from app.engine.weights.store import WeightStore
from app.settings import get_settings
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits
from bench.train_baselines import cd_adain, cd_adain_networks, reconstruction_error
from tests.support.checkpoints import write_adain_checkpoints
from tests.support.clips import pan_frames, write_clip

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"
STYLES = ("hubble_deep_field.jpg", "ihc.png")
ADDED_STYLE = "brick.png"
UNSEEN = ("astronaut.png", "retina.jpg")


def load(name: str) -> Image.Image:
    return load_image(MEDIA / name)


def load_note() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()                                                       # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


@dataclass
class Run:
    """A training run: its trainer, seconds spent and steps taken."""

    trainer: Trainer
    seconds: float = 0.0
    steps: int = 0

    def go(self, steps: int) -> "Run":
        start = time.perf_counter()
        for index in range(self.steps, self.steps + steps):
            self.trainer.step(index)
        self.seconds += time.perf_counter() - start
        self.steps += steps
        return self


def trainer(vgg: PrunedVGG, options: TrainOptions, styles: list[str], photos: PhotoSet,
            base: Trainer | None = None) -> Trainer:
    """A trainer for ``styles``: a new network, or ``base``'s with them added (frozen)."""
    images = [prepare_style(load(s), options.style_side, 16, 40.0) for s in styles]
    grams = targets(vgg, images, "cpu")
    if base is None:
        return Trainer(new_network(options, len(styles), options.seed), vgg, grams, photos,
                       options)
    first = base.net.shape.styles
    net = extend_network(base.net, len(styles))
    return Trainer(net, vgg, base.grams + grams, photos, options, first)


def training_speed(vgg: PrunedVGG, steps: int) -> dict[str, float]:
    """Steps per second at 256 px: a new network, and a style added to it (frozen)."""
    options = TrainOptions()
    photos = PhotoSet(load_photos(sample_photos(), options.size))
    full = Run(trainer(vgg, options, [STYLES[0]], photos)).go(1)
    full.seconds, full.steps = 0.0, 0
    full.go(steps)
    added = Run(trainer(vgg, options, [STYLES[1]], photos, base=full.trainer)).go(1)
    added.seconds = 0.0
    added.go(steps)
    return {"new network": steps / full.seconds, "added style (frozen)": steps / added.seconds}


def write_model(run: Run, folder: Path, names: list[str], note: dict) -> Path:
    path = folder / "bench.safetensors"
    net = run.trainer.net.eval()
    path.write_bytes(model_bytes(net, header_for(net, names, note)))
    run.trainer.net.train()
    return path


def paint(engine: str, content: Image.Image, style: Image.Image | None, side: int,
          store: WeightStore, **extra) -> Image.Image:
    options = StyleOptions(engine=engine, max_side=side, device="cpu", seed=0,
                           preview_every=0, **extra)
    return stylize_image(content, [style] if style is not None else [], options, store)


def losses_of(vgg: PrunedVGG, result: Image.Image, content: Image.Image,
              style: Image.Image) -> tuple[float, float]:
    return measured_losses(vgg, pil_to_tensor(result), pil_to_tensor(content),
                           pil_to_tensor(style))


def quality(vgg: PrunedVGG, model: Path, store: WeightStore, side: int, iterations: int,
            images: Path | None) -> dict[str, dict[str, list[float]]]:
    """Style and content loss per engine, per style, averaged over the unseen photos."""
    cd = cd_adain_networks()
    table: dict[str, dict[str, list[float]]] = {}
    for index, style_name in enumerate(STYLES):
        style = resize_to_fit(load(style_name), side)
        for photo_name in UNSEEN:
            photo = resize_to_fit(load(photo_name), side, 8)
            made = {
                "AdaIN (CD-16x pair)": cd_adain(cd, photo, style),
                "MicroAST": paint("microast", photo, style, side, store),
                f"gatys-lite ({iterations} it.)": paint("gatys-lite", photo, style, side, store,
                                                        iterations=iterations),
                "trained": paint("trained", photo, None, side, store, model_path=str(model),
                                 style_weights=tuple(float(i == index)
                                                     for i in range(len(STYLES)))),
            }
            for engine, result in made.items():
                s, c = losses_of(vgg, result, photo, style)
                row = table.setdefault(engine, {}).setdefault(style_name, [0.0, 0.0])
                row[0] += s / len(UNSEEN)
                row[1] += c / len(UNSEEN)
            if images is not None and index == 0 and photo_name == UNSEEN[0]:
                side_by_side(images / "trained-compare.jpg", photo, style, made)
    return table


def side_by_side(path: Path, photo: Image.Image, style: Image.Image,
                 made: dict[str, Image.Image]) -> None:
    """The photo, the style and each engine's painting in a row of equal tiles."""
    tiles = [photo, style, *made.values()]
    side = 224
    row = Image.new("RGB", (side * len(tiles), side), "white")
    for i, tile in enumerate(tiles):
        fitted = resize_to_fit(tile.convert("RGB"), side)
        row.paste(fitted, (i * side + (side - fitted.width) // 2, (side - fitted.height) // 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    row.save(path, quality=80, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB): photo, style, "
          + ", ".join(made))


def unseen_losses(vgg: PrunedVGG, run: Run, style_index: int, style_name: str,
                  side: int) -> tuple[float, float]:
    """A network's mean (style, content) loss on the unseen photos for one of its styles."""
    style = resize_to_fit(load(style_name), side)
    total = [0.0, 0.0]
    for photo_name in UNSEEN:
        photo = resize_to_fit(load(photo_name), side, 8)
        x = pil_to_tensor(photo)
        painted = run.trainer.paint(x[..., :x.shape[-2] // 4 * 4, :x.shape[-1] // 4 * 4],
                                    style_index)
        s, c = losses_of(vgg, painted, photo, style)
        total[0] += s / len(UNSEEN)
        total[1] += c / len(UNSEEN)
    return total[0], total[1]


def inference(model: Path, store: WeightStore, folder: Path, repeats: int,
              frames: int, images: Path | None) -> dict[str, tuple[float, float]]:
    """(ms per 512x512 picture, clip frames per second at 512x288) per engine."""
    adain_weights = write_adain_checkpoints(folder / "adain-speed")
    style = load(STYLES[0])
    stylizers: dict[str, Callable[[], object]] = {
        "trained": lambda: make_frame_stylizer([], StyleOptions(
            engine="trained", model_path=str(model), device="cpu",
            style_weights=(1.0, 0.0)), store),
        "MicroAST": lambda: make_frame_stylizer([style], StyleOptions(
            engine="microast", device="cpu"), store),
        "AdaIN (generated weights)": lambda: AdaINStylizer(
            [style], StyleOptions(device="cpu"), weights=adain_weights),
    }
    photo = pil_to_tensor(resize_to_fit(load("astronaut.png"), 512))
    clip = write_clip(folder / "pan512.mp4",
                      pan_frames("coffee.png", (512, 288), frames), tone_hz=440.0)
    out: dict[str, tuple[float, float]] = {}
    for name, make in stylizers.items():
        stylizer = make()
        ms = median_ms(lambda: stylizer.stylize_frames(photo), repeats)
        dst = folder / f"clip-{len(out)}.mp4"
        start = time.perf_counter()
        stylize_video(clip, dst, stylizer, 512, VideoLimits(), stabilize=True)
        out[name] = (ms, frames / (time.perf_counter() - start))
        if name == "trained" and images is not None:
            clip_frame(dst, images / "trained-clip-frame.jpg")
    return out


def clip_frame(clip: Path, path: Path) -> None:
    """The middle frame of ``clip`` as a JPEG."""
    with av.open(str(clip)) as container:
        frames = [f.to_image() for f in container.decode(video=0)]
    frames[len(frames) // 2].save(path, quality=80, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB): frame {len(frames) // 2} of "
          f"{len(frames)}")


def print_table(title: str, rows: list[tuple[str, ...]]) -> None:
    print(f"\n## {title}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="quality training steps")
    parser.add_argument("--size", type=int, default=96, help="quality training crop side")
    parser.add_argument("--batch", type=int, default=2, help="quality training crops a step")
    parser.add_argument("--added-steps", type=int, default=40)
    parser.add_argument("--photo-steps", type=int, default=60,
                        help="steps of each photo-count training")
    parser.add_argument("--eval-side", type=int, default=256)
    parser.add_argument("--gatys-iterations", type=int, default=100)
    parser.add_argument("--speed-steps", type=int, default=3)
    parser.add_argument("--clip-frames", type=int, default=24)
    parser.add_argument("--images", type=Path, help="write the docs' pictures here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    torch.manual_seed(0)
    settings = get_settings()
    store = WeightStore.from_settings(settings)
    vgg = load_pruned_encoders("cpu", store.resolve(TRAINING_FILES[0].name))
    figures: dict = {"cpu": f"{torch.get_num_threads()} torch threads"}
    print(f"# bench.train on cpu, {torch.get_num_threads()} torch threads; {load_note()}")

    speed = training_speed(vgg, args.speed_steps)
    figures["steps_per_s_256"] = speed
    print_table(f"training at 256 px, 4 crops a step, width 16 ({load_note()})",
                [("network", "steps/s")] + [(k, f"{v:.3f}") for k, v in speed.items()])

    options = TrainOptions(steps=args.steps, size=args.size, batch=args.batch,
                           style_size=args.eval_side)
    photos = PhotoSet(load_photos(sample_photos(), options.size))
    two = Run(trainer(vgg, options, list(STYLES), photos)).go(args.steps)
    note = {**options.stored(), "photo_count": len(photos)}
    print(f"\ntrained two styles, {args.steps} steps ({args.steps // 2} each) at {args.size} "
          f"px crops, {args.batch} a step, on {len(photos)} sample photos: "
          f"{two.seconds / 60:.1f} min ({load_note()})")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        model = write_model(two, folder, [Path(s).stem for s in STYLES], note)
        recon = reconstruction_error(cd_adain_networks(), resize_to_fit(load(UNSEEN[0]), 256))
        table = quality(vgg, model, store, args.eval_side, args.gatys_iterations, args.images)
        figures["quality"] = table
        rows = [("engine", *(f"{s} style / content" for s in STYLES))]
        for engine, per_style in table.items():
            rows.append((engine, *(f"{per_style[s][0]:.3f} / {per_style[s][1]:.3f}"
                                   for s in STYLES)))
        print_table(f"unseen photos {', '.join(UNSEEN)} at {args.eval_side} px: Gram style "
                    f"loss / content loss (pruned VGG-19; lower is closer) "
                    f"[CD-16x pair reconstructs a photo to {recon:.3f} mean abs. error]", rows)

        speeds = inference(model, store, folder, 5, args.clip_frames, args.images)
        figures["inference"] = speeds
        print_table(f"painting at 512 px ({load_note()})",
                    [("engine", "ms / 512x512 picture", "clip frames/s (512x288, stabilised)")]
                    + [(k, f"{ms:.0f}", f"{fps:.2f}") for k, (ms, fps) in speeds.items()])

    side, added_steps = args.eval_side, args.added_steps
    added = Run(trainer(vgg, options, [ADDED_STYLE], photos, base=two.trainer)).go(added_steps)
    fresh = Run(trainer(vgg, options, [ADDED_STYLE], photos)).go(added_steps)
    rows = [("way", "steps", "seconds", "style / content loss (unseen)")]
    figures["added_style"] = {}
    for label, run, index in (("added to the two-style network (frozen)", added, 2),
                              ("a new network", fresh, 0)):
        s, c = unseen_losses(vgg, run, index, ADDED_STYLE, side)
        figures["added_style"][label] = [run.seconds, s, c]
        rows.append((label, str(run.steps), f"{run.seconds:.0f}", f"{s:.3f} / {c:.3f}"))
    trainable = sum(p.numel() for layer in added.trainer.net.norms()
                    for p in (layer.gamma, layer.beta)) // added.trainer.net.shape.styles
    total = sum(p.numel() for p in added.trainer.net.parameters())
    print_table(f"adding {ADDED_STYLE} ({trainable:,} parameters of its own, of {total:,}; "
                f"{load_note()})", rows)

    few = PhotoSet(load_photos(sample_photos()[:1], options.size))
    one = Run(trainer(vgg, options, [STYLES[0]], few)).go(args.photo_steps)
    three = Run(trainer(vgg, options, [STYLES[0]], photos)).go(args.photo_steps)
    rows = [("photos", "style / content loss (unseen)")]
    figures["photo_count"] = {}
    for label, run in ((f"1 ({sample_photos()[0].name})", one), ("3 (the samples)", three)):
        s, c = unseen_losses(vgg, run, 0, STYLES[0], side)
        figures["photo_count"][label] = [s, c]
        rows.append((label, f"{s:.3f} / {c:.3f}"))
    print_table(f"{STYLES[0]}, {args.photo_steps} steps, by the photos it learnt from", rows)
    if args.images is not None:
        for label, run in (("one", one), ("three", three)):
            photo = resize_to_fit(load(UNSEEN[0]), 192, 8)
            run.trainer.paint(pil_to_tensor(photo), 0).save(
                args.images / f"trained-photos-{label}.jpg", quality=80, optimize=True)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    print(f"\ndone ({load_note()})")


if __name__ == "__main__":
    main()
