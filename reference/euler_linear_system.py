"""Reference for euler_linear_system: the tutorial's excitatory-inhibitory pair, Euler's method.

The loop is written once, with dr_E and dr_I as parameters (functions of the arrays and the
step index k, so that a mistake may read r_E[k+1]): the known mistakes students make in the
two lines they write are that loop with their derivatives, named in the spec's mistakes.
"""

import numpy as np

tau_E = 100
tau_I = 120


def Euler_Simple_Linear_System(t, dt):
    return _simulate(t, dt, lambda r_E, r_I, k: -r_I[k] / tau_E, lambda r_E, r_I, k: r_E[k] / tau_I)


def _simulate(t, dt, dr_E, dr_I):
    r_I = np.zeros(len(t))
    r_I[0] = 20
    r_E = np.zeros(len(t))
    r_E[0] = 30
    for k in range(len(t) - 1):
        r_E[k + 1] = r_E[k] + dt * dr_E(r_E, r_I, k)
        r_I[k + 1] = r_I[k] + dt * dr_I(r_E, r_I, k)
    return r_E, r_I


# Known mistakes (see exercises/euler_linear_system.yaml).


def dr_E_from_r_E(t, dt):
    return _simulate(t, dt, lambda r_E, r_I, k: -r_E[k] / tau_E, lambda r_E, r_I, k: r_E[k] / tau_I)


def inhibition_sign_dropped(t, dt):
    return _simulate(t, dt, lambda r_E, r_I, k: r_I[k] / tau_E, lambda r_E, r_I, k: r_E[k] / tau_I)


def time_constants_swapped(t, dt):
    return _simulate(t, dt, lambda r_E, r_I, k: -r_I[k] / tau_I, lambda r_E, r_I, k: r_E[k] / tau_E)


def dr_I_from_updated_r_E(t, dt):
    return _simulate(
        t, dt, lambda r_E, r_I, k: -r_I[k] / tau_E, lambda r_E, r_I, k: r_E[k + 1] / tau_I
    )
