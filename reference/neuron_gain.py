"""Reference for neuron_gain: the tutorial's own function."""

import numpy as np


def compute_rate_and_gain(I, a, theta, current_timestep):
    rate = (1 + np.exp(-a * (I - theta))) ** -1 - (1 + np.exp(a * theta)) ** -1
    gain = (rate[1:] - rate[0:-1]) / current_timestep
    return rate, gain
