"""Reference for sine_derivative: the demo's forward difference, with the spec's given values."""

sine_diff = (n_sine_fun[1:] - n_sine_fun[0:-1]) / h
