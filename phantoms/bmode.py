"""From echo amplitudes on the beam grid to a B-mode image: the scanner's signal chain.

Diffuse echoes are random scatterers filtered by the point-spread function (speckle: Rayleigh
envelope, grain set by the site's pulse length and beam width); bone echoes are coherent.
Bone attenuates everything behind it along the beam (acoustic shadow); soft tissue attenuates
more than fluid, and time-gain compensation (TGC) evens out the average, so regions behind fluid
come out brighter (posterior enhancement). Log compression, gain and a display curve finish it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from phantoms.geometry import BeamGrid
from phantoms.shapes import Canvas
from phantoms.sites import Site

TISSUE_ATTENUATION = 0.045  # amplitude, per mm, round trip (about 4 dB/cm at 3-5 MHz)
FLUID_ATTENUATION = 0.004
TGC_COMPENSATION = 0.8  # TGC assumes a path that is 80% tissue
WHITE_DB = -4.0  # echo level (dB re bone) shown as white at gain 0


@dataclass(frozen=True)
class ScannerSettings:
    """Per-image settings: the site's defaults plus the sonographer's knob turns."""

    gain_db: float
    dynamic_range_db: float
    gamma: float
    smoothing: float  # px, speckle reduction


@dataclass(frozen=True)
class ScatterNoise:
    """White complex noise for the scatterers of one frame (two independent normal fields)."""

    real: np.ndarray
    imag: np.ndarray

    @staticmethod
    def draw(shape, rng: np.random.Generator) -> ScatterNoise:
        return ScatterNoise(
            rng.standard_normal(shape, dtype=np.float32),
            rng.standard_normal(shape, dtype=np.float32),
        )

    def evolve(self, rng: np.random.Generator, correlation: float) -> ScatterNoise:
        """Next cine frame: partly the same scatterers (slow probe motion decorrelates them)."""
        fresh = ScatterNoise.draw(self.real.shape, rng)
        keep, add = correlation, float(np.sqrt(1.0 - correlation**2))
        return ScatterNoise(
            keep * self.real + add * fresh.real, keep * self.imag + add * fresh.imag
        )


def _psf_sigmas(site: Site, image_height: int) -> tuple[float, float]:
    """Speckle grain in grid samples (axial, lateral), scaled with the output image size."""
    scale = image_height / 256.0
    return site.speckle_axial * scale, site.speckle_lateral * scale


def _blur(field: np.ndarray, sigma_axial: float, sigma_lateral: float) -> np.ndarray:
    return cv2.GaussianBlur(field, (0, 0), sigmaX=sigma_axial, sigmaY=sigma_lateral)


def _path_attenuation(canvas: Canvas, grid: BeamGrid) -> np.ndarray:
    """exp(-integral of attenuation) from the probe to each sample, before that sample."""
    tissue = canvas.echo > 0.001
    per_mm = np.where(tissue, TISSUE_ATTENUATION, FLUID_ATTENUATION) + canvas.bone
    path = np.cumsum(per_mm, axis=1) * grid.mm_per_sample
    path -= per_mm * grid.mm_per_sample  # a bone surface itself is not in its own shadow
    tgc = TISSUE_ATTENUATION * TGC_COMPENSATION * grid.depth
    return np.exp(tgc - path).astype(np.float32)


def envelope(canvas: Canvas, grid: BeamGrid, site: Site, noise: ScatterNoise, image_height: int):
    """Echo envelope on the beam grid (linear amplitude, bone surface ~ 1)."""
    sigma_axial, sigma_lateral = _psf_sigmas(site, image_height)
    # Blurred unit white noise has std 1/sqrt(4 pi sa sl) per component and a Rayleigh
    # envelope of mean std * sqrt(pi/2): scale so a uniform region's mean envelope is its echo.
    norm = float(np.sqrt(4.0 * np.pi * sigma_axial * sigma_lateral) / np.sqrt(np.pi / 2.0))
    gain = _path_attenuation(canvas, grid)
    diffuse = canvas.echo * gain * norm
    speck_re = _blur(diffuse * noise.real, sigma_axial, sigma_lateral)
    speck_im = _blur(diffuse * noise.imag, sigma_axial, sigma_lateral)
    bone_echo = np.where(canvas.bone > 0, canvas.echo * gain, 0.0).astype(np.float32)
    coherent = _blur(bone_echo, sigma_axial * 0.8, sigma_lateral * 0.8) * 0.8
    # TGC raises the electronic noise with depth; scanners keep it just below visibility.
    tgc_noise = site.noise_floor * (1.0 + 3.0 * grid.depth / float(grid.depth[0, -1]))
    # Near-field reverberation haze, strongest under the probe.
    haze = 0.0015 * np.exp(-grid.depth / 6.0)
    # Reversing the noise along depth gives a field independent of the scatterers at each sample.
    floor = np.sqrt(tgc_noise**2 + haze**2) * np.abs(noise.real[:, ::-1])
    return np.sqrt(speck_re**2 + speck_im**2 + coherent**2) + floor


def log_compress(env: np.ndarray, settings: ScannerSettings) -> np.ndarray:
    """Envelope to display brightness 0..1: dB, gain window, dynamic range, display curve.

    A light smoothing of the log image stands for the scanner's speckle reduction.
    """
    db = 20.0 * np.log10(env + 1e-7)
    if settings.smoothing > 0:
        db = cv2.GaussianBlur(db, (0, 0), sigmaX=settings.smoothing)
    top = WHITE_DB - settings.gain_db
    level = np.clip((db - (top - settings.dynamic_range_db)) / settings.dynamic_range_db, 0.0, 1.0)
    return level**settings.gamma
