"""The STFT engine against librosa, and the Projector against stft(istft(.))."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from melbench import stft as S
from melbench.errors import InputError, ParameterError
from melbench.spec import get_spec

# (n_fft, hop, win_length, center, pad_mode, window)
GEOMETRIES = [
    (1024, 256, 1024, True, "constant", "hann"),
    (512, 100, 400, True, "reflect", "hamming"),  # win < n_fft, hop does not divide n_fft
    (256, 64, 256, False, "constant", "hann"),
    (300, 77, 255, True, "edge", "blackman"),  # odd window, even n_fft, odd hop
    (255, 60, 255, True, "constant", "hann"),  # odd n_fft
]


def _ids(g):
    return "n{}-h{}-w{}-{}-{}-{}".format(*g)


@pytest.mark.parametrize("geom", GEOMETRIES, ids=_ids)
def test_stft_equals_librosa_with_batch_axes(geom, rng):
    n_fft, hop, win, center, pad, wname = geom
    y = rng.standard_normal((2, 3, 4000))
    w = S.get_window(wname, win, n_fft)
    ref = librosa.stft(y, n_fft=n_fft, hop_length=hop, win_length=win, window=wname,
                       center=center, pad_mode=pad)
    got = S.stft(y, n_fft=n_fft, hop_length=hop, window=w, center=center, pad_mode=pad)
    assert got.shape == ref.shape and got.dtype == np.complex128
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    got32 = S.stft(y.astype(np.float32), n_fft=n_fft, hop_length=hop, window=w, center=center,
                   pad_mode=pad)
    assert got32.dtype == np.complex64
    np.testing.assert_allclose(got32, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("geom", GEOMETRIES, ids=_ids)
@pytest.mark.parametrize("length", [None, 3900, 4100])
def test_istft_equals_librosa(geom, length, rng):
    n_fft, hop, win, center, pad, wname = geom
    X = rng.standard_normal((2, n_fft // 2 + 1, 40)) + 1j * rng.standard_normal((2, n_fft // 2 + 1, 40))
    w = S.get_window(wname, win, n_fft)
    ref = librosa.istft(X, n_fft=n_fft, hop_length=hop, win_length=win, window=wname,
                        center=center, length=length)
    got = S.istft(X, n_fft=n_fft, hop_length=hop, window=w, center=center, length=length)
    assert got.shape == ref.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    got32 = S.istft(X.astype(np.complex64), n_fft=n_fft, hop_length=hop, window=w,
                    center=center, length=length)
    assert got32.dtype == np.float32


@pytest.mark.parametrize("geom", GEOMETRIES, ids=_ids)
def test_perfect_reconstruction(geom, rng):
    n_fft, hop, win, center, pad, wname = geom
    y = rng.standard_normal((3, 5000))
    w = S.get_window(wname, win, n_fft)
    X = S.stft(y, n_fft=n_fft, hop_length=hop, window=w, center=center, pad_mode=pad)
    back = S.istft(X, n_fft=n_fft, hop_length=hop, window=w, center=center, length=5000)
    # without centring the first/last samples are covered by the window's zero tails only
    sl = slice(None) if center else slice(n_fft, 5000 - 2 * n_fft)
    np.testing.assert_allclose(back[..., sl], y[..., sl], atol=1e-9)


@pytest.mark.parametrize("geom", GEOMETRIES, ids=_ids)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_projector_equals_stft_of_istft(geom, dtype, rng):
    n_fft, hop, win, center, pad, wname = geom
    w = S.get_window(wname, win, n_fft)
    t = 37
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    X = (rng.standard_normal((2, 1, n_fft // 2 + 1, t))
         + 1j * rng.standard_normal((2, 1, n_fft // 2 + 1, t))).astype(cdt)
    proj = S.Projector(n_fft=n_fft, hop_length=hop, window=w, center=center, pad_mode=pad,
                       n_frames=t, batch_shape=(2, 1), dtype=dtype)
    # reference computed in float64 with librosa itself
    natural = n_fft + hop * (t - 1) - (2 * (n_fft // 2) if center else 0)
    assert proj.length == natural + (hop - 1 if center else 0)
    y = librosa.istft(X.astype(np.complex128), n_fft=n_fft, hop_length=hop, win_length=win,
                      window=wname, center=center, length=proj.length)
    ref = librosa.stft(y, n_fft=n_fft, hop_length=hop, win_length=win, window=wname,
                       center=center, pad_mode=pad)
    got = proj(X)
    assert got.shape == X.shape and got.dtype == cdt
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol * np.abs(ref).max())
    # idempotent: a consistent spectrogram is a fixed point
    np.testing.assert_allclose(proj(got), got, rtol=0, atol=tol * np.abs(ref).max())
    # with the natural length: exactly librosa's stft(istft(X)) without a length
    nat = S.Projector(n_fft=n_fft, hop_length=hop, window=w, center=center, pad_mode=pad,
                      n_frames=t, batch_shape=(2, 1), dtype=dtype, length=natural)
    y = librosa.istft(X.astype(np.complex128), n_fft=n_fft, hop_length=hop, win_length=win,
                      window=wname, center=center)
    ref = librosa.stft(y, n_fft=n_fft, hop_length=hop, win_length=win, window=wname,
                       center=center, pad_mode=pad)
    np.testing.assert_allclose(nat(X), ref, rtol=0, atol=tol * np.abs(ref).max())


def test_projector_internal_layout_and_synthesis(rng):
    spec = get_spec("speech16k")
    y = rng.standard_normal(8000).astype(np.float32)
    X = spec.stft(y)
    proj = S.Projector.from_spec(spec, X.shape[-1])
    z = proj.to_internal(X, proj.cdtype)
    assert z.shape == proj.shape and z.flags.c_contiguous
    np.testing.assert_allclose(proj.synthesize(z, length=8000), y, atol=1e-5)
    np.testing.assert_array_equal(proj.from_internal(z), X)
    with pytest.raises(InputError, match="expects"):
        proj.to_internal(X[:, :-1])


def test_projector_is_orthogonal_with_constant_padding(rng):
    """<P1 x, x - P1 x> = 0 in the full-spectrum inner product (bins 1..N/2-1 count twice)."""
    spec = get_spec("speech16k")
    t = 20
    proj = S.Projector.from_spec(spec, t, dtype=np.float64)
    x = rng.standard_normal((spec.n_freq, t)) + 1j * rng.standard_normal((spec.n_freq, t))
    x[0].imag = 0
    x[-1].imag = 0
    p = proj(x)
    wgt = np.full((spec.n_freq, 1), 2.0)
    wgt[0] = wgt[-1] = 1.0
    inner = np.sum(wgt * (p * np.conj(x - p))).real
    assert abs(inner) < 1e-9 * np.sum(wgt * np.abs(x) ** 2)


def test_window_sumsquare_matches_librosa():
    from librosa.filters import window_sumsquare

    w = S.get_window("hann", 400, 512)
    ref = window_sumsquare(window="hann", n_frames=30, hop_length=100, win_length=400,
                           n_fft=512, dtype=np.float64)
    np.testing.assert_allclose(S.window_sumsquare(w, 30, 100, np.float64), ref, atol=1e-12)


# ------------------------------------------------------------------ "same" framing
# Reference for "same": pad (n_fft - hop) // 2 each side with numpy, then librosa with
# center=False (what HiFi-GAN / BigVGAN do with F.pad + torch.stft(center=False)).
# (n_fft, hop, win_length, pad_mode, window)
SAME_GEOMETRIES = [
    (1024, 256, 1024, "reflect", "hann"),
    (512, 100, 400, "constant", "hamming"),  # hop does not divide n_fft, short window
    (255, 60, 255, "reflect", "hann"),  # odd n_fft - hop: floor on both sides
    (64, 60, 64, "edge", "hann"),  # padding (2) shorter than hop - 1
]


def _same_ids(g):
    return "n{}-h{}-w{}-{}-{}".format(*g)


def _same_ref_stft(y, n_fft, hop, win, pad, wname):
    p = (n_fft - hop) // 2
    yp = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(p, p)], mode=pad)
    return librosa.stft(yp, n_fft=n_fft, hop_length=hop, win_length=win, window=wname,
                        center=False)


def _same_ref_istft(X, n_fft, hop, win, wname, length):
    p = (n_fft - hop) // 2
    y = librosa.istft(X, n_fft=n_fft, hop_length=hop, win_length=win, window=wname,
                      center=False)
    y = y[..., p : y.shape[-1] - p] if length is None else y[..., p : p + length]
    if length is not None and y.shape[-1] < length:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
    return y


@pytest.mark.parametrize("geom", SAME_GEOMETRIES, ids=_same_ids)
def test_same_framing_stft_equals_padded_librosa(geom, rng):
    n_fft, hop, win, pad, wname = geom
    y = rng.standard_normal((2, 4001))
    w = S.get_window(wname, win, n_fft)
    ref = _same_ref_stft(y, n_fft, hop, win, pad, wname)
    got = S.stft(y, n_fft=n_fft, hop_length=hop, window=w, framing="same", pad_mode=pad)
    assert got.shape == ref.shape
    assert got.shape[-1] == S.n_frames(4001, n_fft, hop, framing="same")
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * np.abs(ref).max())


@pytest.mark.parametrize("geom", SAME_GEOMETRIES, ids=_same_ids)
@pytest.mark.parametrize("length", [None, 3900, 4100])
def test_same_framing_istft_equals_trimmed_librosa(geom, length, rng):
    n_fft, hop, win, pad, wname = geom
    X = rng.standard_normal((2, n_fft // 2 + 1, 40)) + 1j * rng.standard_normal((2, n_fft // 2 + 1, 40))
    w = S.get_window(wname, win, n_fft)
    ref = _same_ref_istft(X, n_fft, hop, win, wname, length)
    got = S.istft(X, n_fft=n_fft, hop_length=hop, window=w, framing="same", length=length)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


@pytest.mark.parametrize("geom", SAME_GEOMETRIES, ids=_same_ids)
def test_same_framing_reconstructs_without_offset(geom, rng):
    n_fft, hop, win, pad, wname = geom
    y = rng.standard_normal(3003)
    w = S.get_window(wname, win, n_fft)
    X = S.stft(y, n_fft=n_fft, hop_length=hop, window=w, framing="same", pad_mode=pad)
    back = S.istft(X, n_fft=n_fft, hop_length=hop, window=w, framing="same", length=y.size)
    # the tail beyond the last frame is not covered; everything before it is exact, from 0
    covered = S.n_frames(y.size, n_fft, hop, framing="same") * hop - n_fft // 2
    np.testing.assert_allclose(back[: max(covered, n_fft)], y[: max(covered, n_fft)], atol=1e-9)


@pytest.mark.parametrize("geom", SAME_GEOMETRIES, ids=_same_ids)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_projector_same_framing_equals_stft_of_istft(geom, dtype, rng):
    n_fft, hop, win, pad, wname = geom
    w = S.get_window(wname, win, n_fft)
    t = 37
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    X = (rng.standard_normal((2, n_fft // 2 + 1, t))
         + 1j * rng.standard_normal((2, n_fft // 2 + 1, t))).astype(cdt)
    proj = S.Projector(n_fft=n_fft, hop_length=hop, window=w, framing="same", pad_mode=pad,
                       n_frames=t, batch_shape=(2,), dtype=dtype)
    p = (n_fft - hop) // 2
    assert proj.length == n_fft + hop * (t - 1) - 2 * p + hop - 1
    y = _same_ref_istft(X.astype(np.complex128), n_fft, hop, win, wname, proj.length)
    ref = _same_ref_stft(y, n_fft, hop, win, pad, wname)
    got = proj(X)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol * np.abs(ref).max())
    np.testing.assert_allclose(proj(got), got, rtol=0, atol=tol * np.abs(ref).max())


@pytest.mark.parametrize("framing", S.FRAMINGS)
@pytest.mark.parametrize("pad", ["constant", "reflect"])
def test_projector_fixed_point_of_a_clip_every_framing(framing, pad, rng):
    """STFT(ISTFT(X)) == X for X the STFT of a clip (its length given), every framing."""
    spec = get_spec("tts22k", framing=framing, pad_mode=pad)
    y = rng.standard_normal(5000)
    X = spec.stft(y)
    assert X.shape[-1] == spec.n_frames(y.size)
    proj = S.Projector.from_spec(spec, X.shape[-1], dtype=np.float64, length=y.size)
    np.testing.assert_allclose(proj(X), X, rtol=0, atol=1e-10 * np.abs(X).max())
    z = proj.to_internal(X, proj.cdtype)
    back = proj.synthesize(z)
    ref = spec.istft(X, length=y.size)
    np.testing.assert_allclose(back, ref, atol=1e-10)
    if framing != "none":  # padded framings cover the whole clip: exact from sample 0
        np.testing.assert_allclose(back, y, atol=1e-9)


def test_frame_counts_per_framing():
    # HiFi-GAN: N // hop frames; librosa centre: 1 + N // hop; none: 1 + (N - n_fft) // hop
    for n in (22050, 22016, 22271):
        assert S.n_frames(n, 1024, 256, framing="same") == n // 256
        assert S.n_frames(n, 1024, 256, framing="center") == 1 + n // 256
        assert S.n_frames(n, 1024, 256, framing="none") == 1 + (n - 1024) // 256
    assert S.n_frames(1000, 1024, 256, center=True) == 4  # legacy bool
    with pytest.raises(InputError, match="shorter than one frame"):
        S.n_frames(100, 1024, 256, framing="none")
    with pytest.raises(ParameterError, match="framing='middle'"):
        S.n_frames(5000, 1024, 256, framing="middle")
    with pytest.raises(ParameterError, match="contradicts"):
        S.stft(np.zeros(5000), n_fft=1024, hop_length=256, window=np.ones(1024),
               framing="same", center=True)
