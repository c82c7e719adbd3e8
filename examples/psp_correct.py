# Coding Exercise 4.2, completed
J = 1
tau_s = 1
t_sp = 1
dt = .1
t = np.arange(0, 10, dt)

PSP = J * t * np.exp(-(t - t_sp) / tau_s)
rectangle_areas = PSP * dt
numerical_integral = np.cumsum(rectangle_areas)

plot_charge_transfer(t, PSP, numerical_integral)
