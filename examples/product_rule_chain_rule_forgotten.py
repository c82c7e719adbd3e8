# Coding Exercise 2.1.1: dv_dt forgets the inner derivative of exp(-t/tau)
t = np.arange(0, 10, .1)
tau = 0.5

f = t * np.exp(-t/tau)

u_t = t
v_t = np.exp(-t/tau)

du_dt = 1
dv_dt = np.exp(-t/tau)

df_dt = u_t * dv_dt + v_t * du_dt

plot_alpha_func(t, f, df_dt)
