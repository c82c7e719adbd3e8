# Practice 4.1: Riemann sum, with the left edges as an array
dt = 0.5
left_edges = np.arange(0., 10., dt)
fun_value = left_edges**2 - left_edges + 1
r_sum = np.cumsum(fun_value * dt)
