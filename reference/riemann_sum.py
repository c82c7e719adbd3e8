"""Reference for riemann_sum: the demo's loop, with the spec's given values."""

fun_value = np.zeros(n)
for ii in range(n):
    a = min_val + ii * dt
    fun_value[ii] = a**2 - a + 1
r_sum = np.cumsum(fun_value) * dt
