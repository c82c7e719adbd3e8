# Practice 2.2: numerical derivative of sine, with a loop and float32 values
h = 0.2
n_tx = np.arange(-10, 10, h)
n_sine_fun = np.sin(n_tx).astype(np.float32)

sine_diff = []
for k in range(len(n_tx) - 1):
    sine_diff.append((n_sine_fun[k + 1] - n_sine_fun[k]) / h)
