# A student who wrote the spike test on the new value V[k+1], and keeps spike times in a list.
def Euler_Integrate_and_Fire(I, time, dt):
    tau_m, R_m, E_L, V_th = 10, 10, -75, -50
    V = np.full(len(time), float(E_L))
    Spike_time = []
    for k in range(len(time) - 1):
        V[k+1] = V[k] + dt * (-(V[k] - E_L) + R_m * I[k]) / tau_m
        if V[k+1] > V_th:
            V[k+1] = E_L
            Spike_time.append(time[k+1])
    return len(Spike_time), Spike_time, V
