"""Video I/O: probe, read, and write video and image sequences, losing nothing on the way.

Importing this package imports PyAV (and numpy); ``import vidswap`` does not import it.

Known limits (measured with PyAV 18.1 / FFmpeg 8.1):

- MP4/MOV store a track's late start as an edit list in milliseconds, and keep no pts-dts
  offset for audio: copied audio packets are byte-identical but a range's audio may move by
  up to 1 ms (a pass-through keeps every audio pts).
- Matroska keeps timestamps in milliseconds: VFR survives, rounded to 1 ms.
- H.264 cannot say "limited range" without the other colour tags; x264 then writes no range
  (players read unspecified as limited).
- Subtitles are copied only when the output container takes their codec (SubRip/ASS in
  Matroska, mov_text in MP4/MOV); others are listed in ``VideoWriter.dropped``. Data tracks
  other than the timecode (rebuilt from the source's) and attachments are not copied.
- A ``tmcd`` timecode is shifted by the range's first frame time at the nearest SMPTE rate.
- The render holds frames in their own pixel format (:class:`Picture`); formats not held plane by
  plane are held as their planar equivalent (nv12 as yuv420p ...), losslessly except palette,
  Bayer and XYZ formats (held as RGB, with a warning). Image-sequence inputs are read as 8-bit RGB.
"""

from vidswap.io.codecs import CODECS, EncodeSettings, ResolvedEncode, encoder_available, resolve_encode
from vidswap.io.concat import concat_segments
from vidswap.io.planes import Picture
from vidswap.io.probe import AudioInfo, ColorInfo, MediaInfo, SubtitleInfo, VideoInfo, probe
from vidswap.io.ranges import FrameRange, parse_frame_range
from vidswap.io.reader import Frame, NativeFrame, VideoReader, stored, stored_points, upright
from vidswap.io.sequence import ImageSequenceWriter
from vidswap.io.timecode import frames_from_timecode, shift_timecode, timecode_from_frames, timecode_rate
from vidswap.io.writer import RangePts, VideoWriter, range_pts

__all__ = [
    "CODECS",
    "EncodeSettings",
    "ResolvedEncode",
    "encoder_available",
    "resolve_encode",
    "concat_segments",
    "AudioInfo",
    "ColorInfo",
    "MediaInfo",
    "SubtitleInfo",
    "VideoInfo",
    "probe",
    "FrameRange",
    "parse_frame_range",
    "Picture",
    "Frame",
    "NativeFrame",
    "VideoReader",
    "stored",
    "stored_points",
    "upright",
    "ImageSequenceWriter",
    "frames_from_timecode",
    "shift_timecode",
    "timecode_from_frames",
    "timecode_rate",
    "VideoWriter",
    "RangePts",
    "range_pts",
]
