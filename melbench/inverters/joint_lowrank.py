"""``joint_lr``: the joint iteration with a low-rank prior on the lowest bins and iterate averaging.

``joint_tc`` (:mod:`melbench.inverters.joint_continuity`) with other defaults, measured
as a whole (``results/music_phase.md``, "Round 5"): no continuity pass (``beta`` 0), and
instead

- a **low-rank prior on the bins below 250 Hz**: every 4th of the first 150 of 200
  iterations, the consistent magnitude of those bins is pulled (weight 0.25) towards its
  rank-2 approximation over sliding windows of 32 frames
  (:func:`melbench.inverters.lowrank_prior.lowrank_magnitude`); a sustained bass note
  is close to rank one there (an amplitude envelope times a spectral shape) [1]_;
- **iterate averaging**: the magnitude returned is the mean of the consistent magnitudes
  of the last 100 iterations, brought back onto the mel by one more joint iteration and
  the final mel steps; with momentum 0.99 the last iterates wander around the point they
  approach, and their mean is closer to it [2]_.

Measured at speech16k (then ``fgla:32``; one thread): the bundled music excerpt -16.76 dB
SC on 4 s and -16.04 dB on the benchmark's 2.5 s crop (``joint_tc`` -16.07 / -15.33), and
over ten nearby mel contracts (fmax 7000-8000 Hz, both crops; the outcome of one contract
is a lottery of +-1 dB) -16.46 against -15.29 dB; the evaluation suite's 51 music clips
-12.53 against -12.30 dB; its 30 speech clips PESQ-wb 3.634 against 3.580.

``joint_lrr`` (round 7, below) puts the same low-rank prior in front of ``joint_tcr``'s
restart: the prior in all 200 iterations with the continuity pass from 100 Hz, then the
restart with its own iterates averaged (``results/music_phase.md``, "Round 7": the excerpt
-16.81 dB on the benchmark's crop, the suite's music -12.80 dB, speech as the default, 4-8 %
slower than the default cell).

``joint_auto`` (round 8 and its follow-up, below) chooses per clip: ``joint_tcf`` exactly
(``joint_tcr`` with the continuity prior's duration scaled to the framing,
:mod:`melbench.inverters.joint_framing`; ``joint_tcr`` itself at speech16k and every
shorter-frame preset), unless the mel's low bands are steady
(:func:`melbench.inverters.lowrank_prior.low_band_steadiness` below 1.35 dB per 16 ms: no speech
clip of the evaluation suite at any of eleven presets, about half its music) and the sound is
sustained (:func:`melbench.inverters.lowrank_prior.active_fraction` at least 0.9), where it
runs ``joint_lrr`` with 50 more iterations (``results/music_phase.md``, "Round 8" and "Round 8,
follow-up": inside the default's guard the excerpt -17.18 dB on the benchmark's crop and on 4 s,
against -15.30 / -15.93; the suite's music -12.88 against -12.77 dB; speech untouched).

References
----------
.. [1] P. Smaragdis and J. C. Brown, "Non-negative matrix factorization for polyphonic
   music transcription," IEEE WASPAA 2003.
.. [2] B. T. Polyak and A. B. Juditsky, "Acceleration of stochastic approximation by
   averaging," SIAM J. Control Optim. 30(4), 1992.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import ParameterError
from ..spec import FeatureSpec
from .joint_continuity import JointTC
from .joint_framing import JointTCF, glide_bins
from .joint_restart import JointTCR
from .lowrank_prior import active_fraction, low_band_steadiness


class JointLR(JointTC):
    """``joint_tc`` with the low-rank prior and iterate averaging on, the continuity pass off.

    Returns the magnitude and hands its phase to the phase stage as a warm start: pair it
    with ``fgla``. Every parameter of ``joint_tc`` is available.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
       algorithm," Proc. IEEE WASPAA, 2013.
    .. [2] P. Smaragdis and J. C. Brown, "Non-negative matrix factorization for
       polyphonic music transcription," IEEE WASPAA 2003.
    """

    name: ClassVar[str] = "joint_lr"

    @dataclass
    class Params(JointTC.Params):
        """Parameters of ``joint_lr``: those of ``joint_tc`` (see there), other defaults.

        Attributes
        ----------
        beta : float
            Continuity prior weight (0: off).
        lowrank : float
            Weight of the low-rank prior on the bins up to ``lowrank_hz``.
        average_iter : int
            Iterations whose consistent magnitudes are averaged for the output.
        """

        beta: float = 0.0
        lowrank: float = 0.25
        average_iter: int = 100


class JointLRR(JointTCR):
    """The low-rank prior in every joint iteration, then ``joint_tcr``'s restart, averaged.

    ``joint_tcr`` with other defaults (``results/music_phase.md``, "Round 7"): the
    low-rank prior of ``joint_lr`` (rank 2, 32 frames, below 250 Hz, weight 0.25, every 4th
    iteration) by the compiled warm-started solver (``lowrank_solver="power"``), and
    ``joint_tc``'s continuity pass (``beta`` 0.25) on the bins from 100 Hz to 1 kHz only
    (``min_hz``), both in all 200 iterations (``prior_iter`` 0); no averaging of the first
    run (``average_iter`` 0); then the restart (30 plain joint iterations, momentum
    dropped) whose last 30 consistent magnitudes are averaged (``restart_average`` 30).
    The restart frees the estimate from the priors, which is why they can act in every
    iteration here without the speech loss they had before the restart existed. Pair it
    with ``fgla:0``. Every parameter of ``joint_tcr`` is available.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
       algorithm," Proc. IEEE WASPAA, 2013.
    .. [2] P. Smaragdis and J. C. Brown, "Non-negative matrix factorization for
       polyphonic music transcription," IEEE WASPAA 2003.
    .. [3] B. T. Polyak and A. B. Juditsky, "Acceleration of stochastic approximation by
       averaging," SIAM J. Control Optim. 30(4), 1992.
    """

    name: ClassVar[str] = "joint_lrr"

    @dataclass
    class Params(JointTCR.Params):
        """Parameters of ``joint_lrr``: those of ``joint_tcr`` (see there), other defaults.

        Attributes
        ----------
        beta : float
            Continuity prior weight (0: off).
        min_hz : float
            The continuity prior acts from this frequency up to ``max_hz``.
        prior_iter : int
            The priors act in the first ``prior_iter`` iterations (0: in all).
        lowrank : float
            Weight of the low-rank prior on the bins up to ``lowrank_hz``.
        lowrank_solver : str
            ``"power"``: the compiled warm-started solver (``"eigh"``: numpy's).
        restart_average : int
            Iterations of the restart whose consistent magnitudes are averaged.
        """

        beta: float = 0.25
        min_hz: float = 100.0
        prior_iter: int = 0
        lowrank: float = 0.25
        lowrank_solver: str = "power"
        restart_average: int = 30


class JointAuto(JointTCF):
    """``joint_tcf``, or ``joint_lrr`` with more iterations where the mel's low bands are steady.

    Per clip (each item of a batch on its own), two reference-free measures of the given mel
    decide: :func:`melbench.inverters.lowrank_prior.low_band_steadiness` (mean change of the
    level of the bands below ``steady_hz`` over ``steady_lag`` seconds, dB, the level floored
    30 dB below the loudest frame) and :func:`melbench.inverters.lowrank_prior.active_fraction`
    (the share of frames within 30 dB of the loudest):

    - score at or above ``steady_below``, fewer than ``steady_active`` of the frames active, or
      a framing whose :func:`melbench.inverters.joint_framing.glide_bins` exceeds ``glide_ref``
      (where ``joint_tcf`` shortens the continuity prior, which ``joint_lrr`` runs in every
      iteration: narrowband8k, librosa, pwg_24k): ``joint_tcf`` with these parameters,
      exactly (its output bit for bit; that is ``joint_tcr``'s at every framing whose
      ``glide_bins`` is at most ``glide_ref``: speech16k, tts22k, the HiFi-GAN, BigVGAN and
      Vocos presets);
    - otherwise (a sustained tonal sound: a held bass note, a drone, a loop): ``joint_lrr`` at
      its defaults with ``joint_iter + steady_extra`` iterations (the low-rank prior, the
      continuity pass from 100 Hz, the averaged restart).

    Measured (``results/music_phase.md``, "Round 8, follow-up"): the score is a change per 16 ms
    whatever the hop, and the evaluation suite's 147 speech clips score 1.71 or more at each of
    eleven presets (hops 10.7-32 ms), so speech takes the ``joint_tcf`` path everywhere; at
    speech16k the score sorts every suite clip as round 8's per-frame rule did. The active-frame
    gate (which then sends 12 of those 25 steady music clips back to ``joint_tcf``) was chosen on
    the even-index steady music clips (the low-rank path lost on single hits that decay into
    silence) and confirmed on the odd ones. As the default's inner
    (``guarded:200:inner=joint_auto+fgla:0``) at speech16k: the bundled music excerpt from
    -15.30 to -17.18 dB SC against the true magnitude on the benchmark's 2.5 s crop (4 s: -15.93
    to -17.18), the suite's 51 music clips -12.77 to -12.88 dB (5 clips better by more than 0.3
    dB, none worse), its speech and other clips bit for bit the default's. The steady clips cost
    up to 1.5x ``joint_tcr``'s time (``steady_extra`` 0: 1.2x, but the excerpt -16.67 dB).
    Without the framing gate the synthetic harmonic tone took the steady path at narrowband8k
    and got -11.55 dB against ``joint_tcf``'s -16.70 (at librosa -18.27 against -17.99, at
    pwg_24k -15.78 against -15.75; the excerpt is not steady at those three): the gate keeps
    ``joint_tcf`` there. ``steady_below = 0`` gives ``joint_tcf`` exactly. Pair it with ``fgla:0``.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
       algorithm," Proc. IEEE WASPAA, 2013.
    .. [2] P. Smaragdis and J. C. Brown, "Non-negative matrix factorization for
       polyphonic music transcription," IEEE WASPAA 2003.
    """

    name: ClassVar[str] = "joint_auto"

    @dataclass
    class Params(JointTCF.Params):
        """Parameters of ``joint_auto``: those of ``joint_tcf`` (its path) and the switch.

        Attributes
        ----------
        steady_below : float
            Score (dB per ``steady_lag``) below which the clip may take the ``joint_lrr`` path
            (0: never, ``joint_tcf`` exactly).
        steady_extra : int
            Iterations the ``joint_lrr`` path runs beyond ``joint_iter``.
        steady_hz : float
            Bands whose centre is below this frequency enter the score.
        steady_lag : float
            Seconds over which the score measures the change (at least one frame).
        steady_active : float
            The ``joint_lrr`` path also needs at least this share of frames within 30 dB of
            the loudest (:func:`melbench.inverters.lowrank_prior.active_fraction`; 0: any).
        """

        steady_below: float = 1.35
        steady_extra: int = 50
        steady_hz: float = 500.0
        steady_lag: float = 0.016
        steady_active: float = 0.9

    def validate(self) -> None:
        """Check every parameter's range."""
        super().validate()
        p = self.params
        if not (np.isfinite(p.steady_below) and p.steady_below >= 0):
            raise ParameterError(f"steady_below={p.steady_below!r} must be a finite number >= 0 "
                                 "(dB per steady_lag; 0: always joint_tcf)")
        if isinstance(p.steady_extra, bool) or int(p.steady_extra) != p.steady_extra or p.steady_extra < 0:
            raise ParameterError(f"steady_extra={p.steady_extra!r} must be an integer >= 0")
        if not p.steady_hz > 0:
            raise ParameterError(f"steady_hz={p.steady_hz!r} must be positive (Hz)")
        if not (np.isfinite(p.steady_lag) and p.steady_lag > 0):
            raise ParameterError(f"steady_lag={p.steady_lag!r} must be a positive number of seconds")
        if not 0 <= p.steady_active <= 1:
            raise ParameterError(f"steady_active={p.steady_active!r} must be in [0, 1] "
                                 "(a share of frames; 0: any)")

    def is_steady(self, mel: np.ndarray, spec: FeatureSpec) -> bool:
        """Whether one item's mel (``(n_mels, frames)``) takes the ``joint_lrr`` path."""
        p = self.params
        if glide_bins(spec) > float(p.glide_ref):
            return False
        if low_band_steadiness(mel, spec, max_hz=float(p.steady_hz),
                               lag_s=float(p.steady_lag)) >= float(p.steady_below):
            return False
        return active_fraction(mel, spec) >= float(p.steady_active)

    def estimate(self, mel: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
        """Each item: ``joint_tcf``'s estimate, or ``joint_lrr``'s with more iterations if steady."""
        mel = np.asarray(mel)
        if mel.ndim > 2:
            flat = mel.reshape(-1, *mel.shape[-2:])
            outs = [self.estimate(m, spec) for m in flat]
            shape = (*mel.shape[:-2], spec.n_freq, mel.shape[-1])
            return (np.stack([o[0] for o in outs]).reshape(shape),
                    np.stack([o[1] for o in outs]).reshape(shape))
        if not self.is_steady(mel, spec):
            return super().estimate(mel, spec)
        p = self.params
        lrr = JointLRR(JointLRR.Params(joint_iter=int(p.joint_iter) + int(p.steady_extra)))
        return lrr.estimate(mel, spec)
