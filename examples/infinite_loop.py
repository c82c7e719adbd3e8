# Coding Exercise 2.1.1: the first answers are there, then the cell never ends
t = np.arange(0, 10, .1)
tau = 0.5
du_dt = 1
dv_dt = -1/tau * np.exp(-t/tau)
while True:
    pass
