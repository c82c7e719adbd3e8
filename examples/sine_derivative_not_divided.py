# Practice 2.2: numerical derivative of sine, the step forgotten
sine_diff = np.diff(n_sine_fun)
