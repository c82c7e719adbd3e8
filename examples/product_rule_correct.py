# Coding Exercise 2.1.1, completed
t = np.arange(0, 10, .1)
tau = 0.5

f = t * np.exp(-t/tau)

u_t = t
v_t = np.exp(-t/tau)

du_dt = 1
dv_dt = -1/tau * np.exp(-t/tau)

df_dt = u_t * dv_dt + v_t * du_dt

plot_alpha_func(t, f, df_dt)
