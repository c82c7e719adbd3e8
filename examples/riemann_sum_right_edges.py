# Practice 4.1: Riemann sum, heights taken at the right edges
fun_value = [0.0] * n
for ii in range(n):
    a = min_val + (ii + 1) * dt
    fun_value[ii] = a**2 - a + 1
r_sum = np.cumsum(fun_value) * dt
