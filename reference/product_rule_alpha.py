"""Reference for product_rule_alpha: the instructor's cell, run with the spec's given values."""

du_dt = 1
dv_dt = -1 / tau * np.exp(-t / tau)
df_dt = u_t * dv_dt + v_t * du_dt
