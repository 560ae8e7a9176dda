"""``joint_tcf``: ``joint_tcr`` with its continuity prior's duration scaled to the framing.

``joint_tc``'s continuity prior (:mod:`melbench.inverters.joint_continuity`) pulls each
bin's magnitude below ``max_hz`` towards its geometric three-frame mean in the first
``prior_iter`` joint iterations: it assumes that a component stays in its FFT bin from
one frame to the next. How far a gliding harmonic moves per frame, in bins, depends on
the framing: a glide of ``r`` Hz/s moves

``g = r * (hop_length / sample_rate) / (sample_rate / n_fft)``

bins per frame (:func:`glide_bins`, with ``r`` = 1 kHz/s: 1.024 at ``speech16k``, where
``prior_iter`` = 150 was measured, 0.54 at ``tts22k``, 2.16 at ``librosa``, 4.10 at
``narrowband8k``, whose 8 kHz audio and 1024-sample windows give bins of 7.8 Hz and
frames 32 ms apart). Where ``g`` exceeds the reference ``glide_ref`` the prior holds
glides back more, so ``joint_tcf`` runs it for ``prior_iter * glide_ref / g`` iterations
(:func:`scaled_prior_iter`, at least one); at or below the reference it is ``joint_tcr``
exactly (bit for bit), so the framings the prior was measured at keep today's output.

Why (``results/narrowband8k.md``): at ``narrowband8k`` the default's PESQ loss is in the
bins below 1 kHz (magnitude and phase swapped with the truth region by region), exactly
where the prior acts; run for fewer iterations there (25-50 of 200) the mean PESQ-wb of
the evaluation suite's speech analysed at narrowband8k rises (numbers in that file), while
a harmonic-comb prior, the PGHI / RTISI-LA / LWS starts and more iterations were measured
and lost or cost more than librosa's time. Pair it with ``fgla:0``, or use it as the
guard's inner (``guarded:inner=joint_tcf+fgla:0``).

References
----------
.. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim algorithm",
   IEEE WASPAA 2013.
.. [2] Y. Masuyama, N. Ueno and N. Ono, "Signal reconstruction from mel-spectrogram based
   on bi-level consistency of full-band magnitude and phase", arXiv:2307.12232, 2023.
.. [3] T. Virtanen, "Monaural sound source separation by nonnegative matrix factorization
   with temporal continuity and sparseness criteria", IEEE TASLP 15(3), 2007.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..errors import ParameterError
from ..spec import FeatureSpec
from .joint_restart import JointTCR

#: Glide rate (Hz per second) at which :func:`glide_bins` measures the framing.
GLIDE_RATE_HZ_PER_S: float = 1000.0

#: :func:`glide_bins` of ``speech16k`` (16 kHz, n_fft 1024, hop 256), where ``joint_tc``'s
#: ``prior_iter`` = 150 was measured (``results/music_phase.md``, ``results/speech_phase.md``).
GLIDE_REF: float = 1.024


def glide_bins(spec: FeatureSpec, rate_hz_per_s: float = GLIDE_RATE_HZ_PER_S) -> float:
    """FFT bins a component gliding at ``rate_hz_per_s`` moves from one frame to the next.

    Parameters
    ----------
    spec : FeatureSpec
        The STFT contract (``sample_rate``, ``n_fft``, ``hop_length``).
    rate_hz_per_s : float
        The glide rate in Hz per second (positive).

    Returns
    -------
    float
        ``rate_hz_per_s * (hop_length / sample_rate) / (sample_rate / n_fft)``.
    """
    if not rate_hz_per_s > 0 or not math.isfinite(rate_hz_per_s):
        raise ParameterError(f"rate_hz_per_s={rate_hz_per_s!r} must be a positive finite number (Hz/s)")
    hop_s = spec.hop_length / spec.sample_rate
    bin_hz = spec.sample_rate / spec.n_fft
    return float(rate_hz_per_s * hop_s / bin_hz)


def scaled_prior_iter(prior_iter: int, joint_iter: int, spec: FeatureSpec,
                      glide_ref: float = GLIDE_REF) -> int:
    """``joint_tc``'s ``prior_iter`` for this framing: shortened where glides move more bins.

    Parameters
    ----------
    prior_iter : int
        Iterations with the prior at the reference framing (0: all ``joint_iter``).
    joint_iter : int
        Joint iterations of the run.
    spec : FeatureSpec
        The framing.
    glide_ref : float
        The :func:`glide_bins` at which ``prior_iter`` applies as given (positive).

    Returns
    -------
    int
        ``prior_iter`` itself (0 stays 0) when ``glide_bins(spec) <= glide_ref``; else
        ``max(1, round(n * glide_ref / glide_bins(spec)))`` with ``n`` = ``prior_iter``, or
        ``joint_iter`` when ``prior_iter`` is 0.
    """
    if not glide_ref > 0 or not math.isfinite(glide_ref):
        raise ParameterError(f"glide_ref={glide_ref!r} must be a positive finite number (bins per frame)")
    g = glide_bins(spec)
    if g <= glide_ref:
        return int(prior_iter)
    n = int(prior_iter) or int(joint_iter)
    return max(1, round(n * glide_ref / g))


class JointTCF(JointTCR):
    """``joint_tcr`` whose continuity prior runs fewer iterations where glides move more bins per frame.

    Every parameter of ``joint_tcr`` is available; ``prior_iter`` is the count at the
    reference framing (``glide_ref``), scaled by :func:`scaled_prior_iter` for the
    mel's spec (see :mod:`melbench.inverters.joint_framing`). At framings whose
    :func:`glide_bins` is at most ``glide_ref`` (``speech16k``, ``tts22k``, the HiFi-GAN
    and BigVGAN presets) the output is ``joint_tcr``'s exactly. Pair it with ``fgla:0``.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
       algorithm," Proc. IEEE WASPAA, 2013.
    .. [2] T. Virtanen, "Monaural sound source separation by nonnegative matrix
       factorization with temporal continuity and sparseness criteria," IEEE TASLP
       15(3), 2007.
    """

    name: ClassVar[str] = "joint_tcf"

    @dataclass
    class Params(JointTCR.Params):
        """Parameters of ``joint_tcf``: those of ``joint_tcr`` (see there) and one more.

        Attributes
        ----------
        glide_ref : float
            Bins per frame of a 1 kHz/s glide (:func:`glide_bins`) at which
            ``prior_iter`` applies unscaled (default :data:`GLIDE_REF`, ``speech16k``'s).
        """

        glide_ref: float = GLIDE_REF

    def validate(self) -> None:
        """Check every parameter's range."""
        super().validate()
        v = self.params.glide_ref
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or not math.isfinite(v):
            raise ParameterError(f"glide_ref={v!r} must be a positive finite number (bins per frame "
                                 f"of a 1 kHz/s glide; {GLIDE_REF} is speech16k's)")

    def estimate(self, mel: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
        """``joint_tcr``'s estimate with ``prior_iter`` from :func:`scaled_prior_iter`."""
        p = self.params
        n = scaled_prior_iter(int(p.prior_iter), int(p.joint_iter), spec, float(p.glide_ref))
        values = {f.name: getattr(p, f.name) for f in fields(JointTCR.Params)}
        return JointTCR({**values, "prior_iter": n}).estimate(mel, spec)
