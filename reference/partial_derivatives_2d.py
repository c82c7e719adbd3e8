"""Reference for partial_derivatives_2d: the bonus section's loops, with the given rate."""

rate_de = np.zeros((len(exc_input) - 1, len(inh_input)))  # one row fewer than rate
for ii in range(len(inh_input)):
    rate_de[:, ii] = (rate[1:, ii] - rate[0:-1, ii]) / step_size

rate_di = np.zeros((len(exc_input), len(inh_input) - 1))  # one column fewer than rate
for ii in range(len(exc_input)):
    rate_di[ii, :] = (rate[ii, 1:] - rate[ii, 0:-1]) / step_size
