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

from .joint_continuity import JointTC
from .joint_restart import JointTCR


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
