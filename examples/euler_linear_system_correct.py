# Lists that grow by one value per step, turned into arrays at the end.
def Euler_Simple_Linear_System(t, dt):
    tau_E, tau_I = 100, 120
    r_E, r_I = [30.0], [20.0]
    for k in range(len(t) - 1):
        dr_E = -r_I[k] / tau_E
        dr_I = r_E[k] / tau_I
        r_E.append(r_E[k] + dt * dr_E)
        r_I.append(r_I[k] + dt * dr_I)
    return np.array(r_E), np.array(r_I)

dt = 0.1
t = np.arange(0, 1000, dt)
r_E, r_I = Euler_Simple_Linear_System(t, dt)
plot_rErI(t, r_E, r_I)
