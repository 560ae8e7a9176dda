"""librosa's ``mel_to_stft`` and ``griffinlim`` as melbench plugins (imported lazily)."""

__version__ = "0.1.0"
