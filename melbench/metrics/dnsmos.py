"""DNSMOS P.835: reference-free speech quality (SIG, BAK, OVRL) and P.808 MOS, via ``speechmos``.

Reference: Reddy, Gopal & Cutler 2022, "DNSMOS P.835: A Non-Intrusive Perceptual
Objective Speech Quality Metric to Evaluate Noise Suppressors", ICASSP. The ONNX
models ship inside Microsoft's ``speechmos`` wheel (no download); ``onnxruntime``
runs them on the CPU.

The estimate alone is scored, so mel-only inputs (a model's predicted mel, a
``dataset=mels`` run without reference audio) get a speech quality score:
``dnsmos_sig`` (speech signal), ``dnsmos_bak`` (background noise), ``dnsmos_ovrl``
(overall), each on the P.835 1-5 scale after the package's polynomial calibration,
and ``dnsmos_p808`` (the P.808 overall model). speechmos's algorithm is used as
published (``speechmos.dnsmos.DNSMOS``): the audio at 16 kHz is repeated until it
is at least 9.01 s long, scored in 9.01 s windows every second, and the window
scores are averaged. Here the estimate is resampled with soxr VHQ from the spec's
rate to 16 kHz and, if its peak exceeds 1 (speechmos accepts only [-1, 1]), scaled
down to peak 1; ``dnsmos_info`` records both, the tiling and the versions. The
ONNX sessions run on one thread (parallelism comes from the metric pool).

Cost: about 0.5 s per 9 s window on one core; a clip of ``d`` seconds (tiled to
``D >= 9.01`` s) has ``floor(D) - 8`` windows (7 for a 4 s clip, tiled to 16 s).
DNSMOS was trained on speech: clips of a known kind other than speech get a reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError, SkipCell
from ..plugin import Metric
from .base import Missing
from .material import check_signal, clip_kind, dist_version, missing_package, resample_note, resample_to

#: DNSMOS's rate and window length (speechmos.dnsmos.SR, INPUT_LENGTH).
DNSMOS_RATE = 16000
DNSMOS_WINDOW_S = 9.01
#: speechmos's output keys -> melbench columns.
KEYS = {"sig_mos": "dnsmos_sig", "bak_mos": "dnsmos_bak", "ovrl_mos": "dnsmos_ovrl",
        "p808_mos": "dnsmos_p808"}
#: Per process: model type -> speechmos DNSMOS object with single-threaded sessions.
_MODELS: dict[str, Any] = {}


def _model(personalized: bool) -> Any:
    key = "dnsmos_personalized" if personalized else "dnsmos"
    if key not in _MODELS:
        import onnxruntime as ort
        from speechmos import dnsmos as sm

        here = os.path.dirname(os.path.abspath(sm.__file__))
        primary = os.path.join(here, "pdnsmos_models" if personalized else "dnsmos_models",
                               "sig_bak_ovr.onnx")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        model = sm.DNSMOS.__new__(sm.DNSMOS)  # speechmos's algorithm, our session options
        model.primary_model_path = primary
        model.onnx_sess = ort.InferenceSession(primary, opts, providers=["CPUExecutionProvider"])
        model.p808_onnx_sess = ort.InferenceSession(
            os.path.join(here, "dnsmos_models", "model_v8.onnx"), opts,
            providers=["CPUExecutionProvider"])
        _MODELS[key] = model
    return _MODELS[key]


def tiled_seconds(seconds: float) -> float:
    """Length speechmos scores: the clip doubled until it is at least 9.01 s."""
    n = seconds
    while n < DNSMOS_WINDOW_S:
        n *= 2
    return n


def dnsmos_scores(estimate: Any, sample_rate: int, *, personalized: bool = False) -> tuple[dict, str]:
    """DNSMOS P.835 (SIG, BAK, OVRL) and P.808 of one signal.

    Parameters
    ----------
    estimate : np.ndarray [shape=(n_samples,)]
        Mono signal ``(n_samples,)`` at ``sample_rate``.
    sample_rate : int
        Its rate; resampled with soxr VHQ to 16 kHz.
    personalized : bool
        speechmos's personalized DNSMOS (penalises interfering talkers) instead.

    Returns
    -------
    scores : dict
        ``{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808": float}``.
    info : str
        Resampling, scaling and tiling applied.

    Raises
    ------
    SkipCell
        NaN/Inf samples, a silent signal, or the package's error.
    """
    y = check_signal(estimate, "estimate")
    if not y.any():
        raise SkipCell("estimate is silent (all samples are zero)")
    x = resample_to(y, sample_rate, DNSMOS_RATE)
    notes = [resample_note(sample_rate, DNSMOS_RATE)]
    peak = float(np.max(np.abs(x)))
    if peak > 1:
        x = x / peak
        notes.append(f"scaled by {1 / peak:.4g} to peak 1 (speechmos takes [-1, 1])")
    seconds = x.size / DNSMOS_RATE
    if seconds < DNSMOS_WINDOW_S:
        notes.append(f"{seconds:.2f} s repeated to {tiled_seconds(seconds):.2f} s by speechmos")
    try:
        raw = _model(personalized)(x, DNSMOS_RATE, personalized)
    except Exception as exc:  # noqa: BLE001 - the package's errors become the reason
        raise SkipCell(f"speechmos failed: {type(exc).__name__}: {exc}") from exc
    scores = {col: float(raw[key]) for key, col in KEYS.items()}
    bad = [c for c, v in scores.items() if not math.isfinite(v)]
    if bad:
        raise SkipCell(f"speechmos returned non-finite {', '.join(bad)}")
    return scores, "; ".join(notes)


class Dnsmos(Metric):
    """DNSMOS P.835 SIG/BAK/OVRL and P.808 MOS of the output alone (no reference needed).

    Columns ``dnsmos_sig``, ``dnsmos_bak``, ``dnsmos_ovrl``, ``dnsmos_p808`` (1-5,
    higher is better) and the text column ``dnsmos_info``. Scores speech; a clip
    of a known kind other than speech gets a reason. Works in ``dataset=mels`` runs
    without reference audio. Needs the ``dnsmos`` extra (``pip install -e '.[dnsmos]'`` in melbench's clone).

    References
    ----------
    .. [1] C. K. A. Reddy, V. Gopal and R. Cutler, "DNSMOS: a non-intrusive perceptual objective
       speech quality metric to evaluate noise suppressors," ICASSP 2021.
    .. [2] C. K. A. Reddy, V. Gopal and R. Cutler, "DNSMOS P.835: a non-intrusive perceptual
       objective speech quality metric to evaluate noise suppressors," ICASSP 2022.
    """

    name: ClassVar[str] = "dnsmos"
    columns: ClassVar[tuple[str, ...]] = tuple(KEYS.values())
    better: ClassVar[dict[str, str]] = {c: "higher" for c in columns}
    needs_reference: ClassVar[bool] = False
    deferred: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of DNSMOS.

        Attributes
        ----------
        model : str
            "dnsmos" (P.835) or "personalized" (speechmos's personalized DNSMOS).
        kinds : str
            "speech" (score speech and clips without a kind) or "all" (every clip).
        """

        model: str = "dnsmos"
        kinds: str = "speech"

    def validate(self) -> None:
        """Check the model and kinds."""
        if self.params.model not in ("dnsmos", "personalized"):
            raise ParameterError(f"dnsmos model={self.params.model!r}; choose 'dnsmos' or 'personalized'")
        if self.params.kinds not in ("speech", "all"):
            raise ParameterError(f"dnsmos kinds={self.params.kinds!r}; choose 'speech' or 'all'")

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Score the estimate (or give the reason it is not scored)."""
        for module, dist in (("speechmos", "speechmos"), ("onnxruntime", "onnxruntime"),
                             ("librosa", "librosa")):
            absent = missing_package(module, "dnsmos", dist)
            if absent is not None:
                return dict.fromkeys(self.columns, absent) | {"dnsmos_info": f"{dist} absent"}
        kind = clip_kind(ctx)
        if self.params.kinds == "speech" and kind and kind != "speech":
            return dict.fromkeys(self.columns, Missing(
                f"DNSMOS is trained on speech; the clip is {kind} (kinds='all' scores it anyway)"))
        try:
            scores, info = dnsmos_scores(ctx["estimate"], int(ctx["sample_rate"]),
                                         personalized=self.params.model == "personalized")
        except SkipCell as exc:
            return dict.fromkeys(self.columns, Missing(str(exc)))
        versions = (f"speechmos {dist_version('speechmos')}, onnxruntime {dist_version('onnxruntime')}")
        return {**scores, "dnsmos_info": f"{info}; {versions}"}
