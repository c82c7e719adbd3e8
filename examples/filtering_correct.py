# Practice 5: filtering a noisy signal, with the student's own noise
h = 0.01
tx = np.arange(0, 2, h)
noise_signal = np.random.uniform(0, 1, (len(tx))) * 0.5
x1 = np.sin(0.5 * np.pi * tx) + noise_signal

x1_diff = np.diff(x1)
x1_integrate = [(x1[k] + x1[k + 1]) / 2 for k in range(len(x1) - 1)]
