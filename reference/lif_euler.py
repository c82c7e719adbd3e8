"""Reference for lif_euler: the tutorial's leaky integrate-and-fire neuron, Euler's method.

The loop is written once, with the step dV as a parameter: the known mistakes students make
in dV (the one line they write) are that loop with their dV, named in the spec's mistakes.
"""

import numpy as np

tau_m = 10
R_m = 10
E_L = V_reset = -75
V_th = -50


def Euler_Integrate_and_Fire(I, time, dt):
    return _integrate_and_fire(I, time, dt, lambda V, I_k: (-(V - E_L) + R_m * I_k) / tau_m)


def _integrate_and_fire(I, time, dt, dV):
    """Spike count, spike times and V, as the tutorial's function computes them."""
    Spike = 0
    V = V_reset * np.ones(len(time))
    Spike_time = []
    for k in range(len(time) - 1):
        V[k + 1] = V[k] + dt * dV(V[k], I[k])
        if V[k] > V_th:  # the tutorial tests the value already stepped from, and marks it
            V[k] = 0
            V[k + 1] = V_reset
            Spike = Spike + 1
            Spike_time = np.append(Spike_time, time[k])
    return Spike, Spike_time, V


# Known mistakes in dV (see exercises/lif_euler.yaml).


def dV_without_R_m(I, time, dt):
    return _integrate_and_fire(I, time, dt, lambda V, I_k: (-(V - E_L) + I_k) / tau_m)


def dV_leak_sign_flipped(I, time, dt):
    return _integrate_and_fire(I, time, dt, lambda V, I_k: ((V - E_L) + R_m * I_k) / tau_m)


def dV_only_input_over_tau_m(I, time, dt):
    return _integrate_and_fire(I, time, dt, lambda V, I_k: -(V - E_L) + R_m * I_k / tau_m)


def dV_times_dt(I, time, dt):
    return _integrate_and_fire(I, time, dt, lambda V, I_k: dt * (-(V - E_L) + R_m * I_k) / tau_m)
