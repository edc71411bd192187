"""Runs drawn from known parametric laws, shared by the tests of sweep/fit/parametric.py,
law_bootstrap.py and law_comparison.py: (N_R, tokens_R, loss_R) arrays of one grid each."""

from __future__ import annotations

import numpy as np

from sweep.fit.parametric import ChinchillaLaw, SubScalingLaw

TRUE_CHINCHILLA = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
# Chen et al.'s reported fit (README "The science: Sub-scaling and data density")
TRUE_SUBSCALING = SubScalingLaw(E=1.372, A=455.345, B=61.929, alpha=0.289, beta=0.272,
                                k_D=0.00810, k_N=0.00114)


def runs_grid(tokens_per_param=(0.5, 2.5), n_sizes=8, n_ratios=6):
    """N over 2.7 decades (1e7 .. 5e9) x tokens per parameter log-spaced in the given decades."""
    n_NxT, tpp_NxT = np.meshgrid(np.logspace(7, 9.7, n_sizes),
                                 np.logspace(*tokens_per_param, n_ratios), indexing="ij")
    return n_NxT.ravel(), (n_NxT * tpp_NxT).ravel()


def noisy(law, N_R, tokens_R, noise, seed=0):
    """The law's loss times exp(noise x standard normal): ~noise relative scatter."""
    return law.predict(N_R, tokens_R) * np.exp(noise * np.random.default_rng(seed).normal(size=N_R.size))


def chinchilla_runs():
    """48 runs of TRUE_CHINCHILLA, 20 .. 320 tokens per parameter, 1% noise."""
    N_R, tokens_R = runs_grid()
    return N_R, tokens_R, noisy(TRUE_CHINCHILLA, N_R, tokens_R, 0.01, seed=1)


def subscaling_runs():
    """48 runs of TRUE_SUBSCALING, OTR 1 .. 2000, 0.3% noise."""
    N_R, tokens_R = runs_grid(tokens_per_param=(0.0, 3.3))
    return N_R, tokens_R, noisy(TRUE_SUBSCALING, N_R, tokens_R, 0.003, seed=1)


def pinned_runs():
    """12 runs of TRUE_CHINCHILLA (E = 1.7) over one decade of N, 2% noise: the fit's E collapses to
    about 1e-29 (the runs show no floor), though resamples of the same runs find E > 0."""
    N_R = np.repeat(np.geomspace(1e6, 1e7, 4), 3)
    tokens_R = N_R * np.tile([5.0, 20.0, 80.0], 4)
    return N_R, tokens_R, noisy(TRUE_CHINCHILLA, N_R, tokens_R, 0.02, seed=2)
