"""Reference for psp_charge: the instructor's cell, run with the spec's given values."""

PSP = J * t * np.exp(-(t - t_sp) / tau_s)
rectangle_areas = PSP * dt
numerical_integral = np.cumsum(rectangle_areas)
