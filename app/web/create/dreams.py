"""What a Deep Dream request will really run, settled before its job exists.

* **The network.** ``auto`` becomes the network this server would dream with (GoogLeNet,
  else VGG-19, else the bundled one), and the job keeps that name, so its pages say which
  network dreamed and what each depth gives on it; a network asked for by name that is not
  installed is refused with 409.
* **The octaves.** Each octave is ``octave_scale`` times smaller than the next and none may
  be under the network's smallest side, so a small photo has room for fewer octaves than
  asked. A number the person typed is refused with the number that fits; one the quality
  choice (or the default) gave is lowered to it, and the job keeps both (``octaves`` ran,
  ``octaves_asked`` was the quality's), so the result page shows what ran.
"""

from __future__ import annotations

from typing import Any

from app.engine.errors import WeightsMissingError
from app.engine.images import fit_size
from app.engine.methods.deepdream.ascent import octave_sizes
from app.engine.methods.deepdream.networks import NETWORKS, DreamNet, network_here
from app.engine.options import StyleOptions
from app.engine.weights.store import WeightStore
from app.refusals import Refused
from app.uploads.storing import larger_choice

NETWORK_NOT_INSTALLED = ("the Deep Dream network you chose ({label}) is not installed on this "
                         "server; the studio's admin can install it on the admin page, or "
                         "choose network auto to dream with what is installed")


def dream_network(options: StyleOptions, weights: WeightStore) -> DreamNet:
    """The network the dream will use here (409 when one named is not installed)."""
    try:
        return network_here(options.network, weights)
    except WeightsMissingError:
        raise Refused(NETWORK_NOT_INSTALLED.format(
            label=NETWORKS[options.network].label), 409) from None


def octave_room(width: int, height: int, options: StyleOptions) -> int:
    """How many of the asked octaves a ``width`` x ``height`` photo has room for at the
    options' size, on their network (what :class:`~app.engine.methods.deepdream.ascent.Dreamer`
    will run)."""
    fitted_w, fitted_h = fit_size(width, height, options.max_side)
    net = NETWORKS[options.network]
    return len(octave_sizes(fitted_h, fitted_w, options.octaves, options.octave_scale,
                            net.min_side))


def fit_octaves(options: StyleOptions, width: int, height: int,
                typed: bool) -> tuple[StyleOptions, dict[str, Any]]:
    """``options`` with the octaves that will run, and what the job row should keep beside
    them; refuses (422) more octaves than fit when the person ``typed`` the number."""
    room = octave_room(width, height, options)
    if room >= options.octaves:
        return options, {}
    if typed:
        fitted = "x".join(map(str, fit_size(width, height, options.max_side)))
        raise Refused(
            f"the photo makes {fitted} at {options.max_side} px, which has room for {room} "
            f"octave{'s' if room != 1 else ''} (each {options.octave_scale:g} times smaller, "
            f"none under {NETWORKS[options.network].min_side} px), not {options.octaves}: "
            f"choose at most {room}, or {larger_choice(width, height, options.max_side, 'photo')}")
    return options.model_copy(update={"octaves": room}), {"octaves_asked": options.octaves}
