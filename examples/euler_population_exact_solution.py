dt = 1
t = np.arange(1, 5+dt/2, dt)

# the population at every time point
p = np.exp(0.3*t)

visualize_population_approx(t, p)
