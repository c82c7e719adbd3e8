"""Reference for euler_population: the instructor's cell, without its plot."""

dt = 1
t = np.arange(1, 5 + dt / 2, dt)
p = np.zeros(len(t))
p[0] = np.exp(0.3 * t[0])  # initial condition
for k in range(len(t) - 1):
    p[k + 1] = p[k] + dt * 0.3 * p[k]
