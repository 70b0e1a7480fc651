"""Video I/O: probe, read, and write video and image sequences, losing nothing on the way.

Importing this package imports PyAV (and numpy); ``import vidswap`` does not import it.
"""

from vidswap.io.codecs import CODECS, EncodeSettings, ResolvedEncode, encoder_available, resolve_encode
from vidswap.io.probe import AudioInfo, ColorInfo, MediaInfo, SubtitleInfo, VideoInfo, probe
from vidswap.io.ranges import FrameRange, parse_frame_range
from vidswap.io.reader import Frame, VideoReader, stored, upright
from vidswap.io.sequence import ImageSequenceWriter
from vidswap.io.timecode import frames_from_timecode, shift_timecode, timecode_from_frames, timecode_rate
from vidswap.io.writer import VideoWriter

__all__ = [
    "CODECS", "EncodeSettings", "ResolvedEncode", "encoder_available", "resolve_encode",
    "AudioInfo", "ColorInfo", "MediaInfo", "SubtitleInfo", "VideoInfo", "probe",
    "FrameRange", "parse_frame_range",
    "Frame", "VideoReader", "stored", "upright",
    "ImageSequenceWriter",
    "frames_from_timecode", "shift_timecode", "timecode_from_frames", "timecode_rate",
    "VideoWriter",
]
