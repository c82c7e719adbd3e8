# Practice 5: filtering a noisy signal; the integral taken as a running sum
x1_diff = x1[1:] - x1[:-1]
x1_integrate = np.cumsum(x1) * h
