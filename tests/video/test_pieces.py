"""A clip in pieces (several workers at once): the pieces tile the stretch, each made on its
own (in any order) comes out as one segment, and the joined pieces are the whole clip with
every frame, its duration and its sound. The overlap re-seeds the temporal chain at a
piece's start, so the seam is closer to what one worker would have made than a cold start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.video import pipeline
from app.video.decoding import iter_frames
from app.video.pieces import plan_pieces, stylize_piece
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits, inspect_video
from app.video.segments import FolderSegments, check_consecutive, join_segments
from tests.video.doubles import StandInStylizer

LIMITS = VideoLimits()
PIECE_S = 0.5            # 12 frames of the 24 fps pan clip: four pieces


def made_in_pieces(pan_clip: Path, folder: Path, flicker: float = 0.0) -> Path:
    """The clip made piece by piece, last piece first, then joined with its sound."""
    pieces = plan_pieces(pan_clip, 128, LIMITS, None, PIECE_S)
    sink = FolderSegments(folder / "segments")
    for piece in reversed(pieces):               # order does not matter: each stands alone
        stylize_piece(pan_clip, StandInStylizer(flicker=flicker, seed=piece.number), 128,
                      LIMITS, piece, sink, batch_size=2)
    segments = sorted(sink.done(), key=lambda s: s.index)
    assert check_consecutive(segments, sink) == segments    # an unbroken run of frames
    out = folder / "joined.mp4"
    join_segments([sink.file_for(s) for s in segments], out, audio_from=pan_clip)
    return out


def test_the_pieces_tile_the_clip(pan_clip: Path) -> None:
    pieces = plan_pieces(pan_clip, 128, LIMITS, None, PIECE_S)
    assert [(p.first_frame, p.frames) for p in pieces] == [(0, 12), (12, 12), (24, 12),
                                                          (36, 12)]
    assert [p.end_pts for p in pieces[:-1]] == [p.start_pts for p in pieces[1:]]
    assert pieces[0].start_pts == 0 and pieces[-1].end_pts is None


def test_pieces_made_apart_join_into_the_whole_clip(tmp_path: Path, pan_clip: Path) -> None:
    joined = made_in_pieces(pan_clip, tmp_path)
    made, source = inspect_video(joined, LIMITS), inspect_video(pan_clip, LIMITS)
    assert made.frame_count == source.frame_count == 48
    assert abs(made.duration - source.duration) < 0.05 and made.has_audio
    whole = stylize_video(pan_clip, tmp_path / "whole.mp4", StandInStylizer(), 128, LIMITS,
                          batch_size=2, segment_seconds=PIECE_S)
    assert whole.frame_count == 48
    diffs = [np.abs(a.astype(float) - b.astype(float)).mean()
             for a, b in zip(iter_frames(joined), iter_frames(tmp_path / "whole.mp4"))]
    # the first piece is the same to the bit; the later ones within a few grey levels (one
    # worker carries its chain on from each segment's decoded last frame, a piece re-seeds it)
    assert len(diffs) == 48 and max(diffs[:12]) == 0.0 and max(diffs) < 6.0


def seam_jump(pan_clip: Path, folder: Path) -> float:
    """How far the first frame of each later piece is from the one worker's frame (grey
    levels, flickering engine): what a viewer sees as a seam."""
    joined = made_in_pieces(pan_clip, folder, flicker=0.15)
    reference = folder / "whole.mp4"
    stylize_video(pan_clip, reference, StandInStylizer(flicker=0.15, seed=99), 128, LIMITS,
                  batch_size=2, segment_seconds=PIECE_S)
    ours, theirs = list(iter_frames(joined)), list(iter_frames(reference))
    return float(np.mean([np.abs(ours[i].astype(float) - theirs[i].astype(float)).mean()
                          for i in (12, 24, 36)]))


def test_the_overlap_reseeds_the_chain_at_a_seam(tmp_path: Path, pan_clip: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    reseeded = seam_jump(pan_clip, tmp_path / "overlap")
    monkeypatch.setattr(pipeline, "OVERLAP_FRAMES", 0)
    cold = seam_jump(pan_clip, tmp_path / "cold")
    assert reseeded < 0.8 * cold, (reseeded, cold)
