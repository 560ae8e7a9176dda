"""Dataset plugins: sources of clips (audio and/or precomputed mels)."""

from .base import Clip, load_audio

__all__ = ["Clip", "load_audio"]
