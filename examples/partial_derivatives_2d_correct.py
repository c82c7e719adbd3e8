# Practice B1.2: numerical partial derivatives, rate recomputed with loops as in the tutorial
step_size = 0.1
exc_input = np.arange(1, 10, step_size)
inh_input = np.arange(0, 7, step_size)
rate = np.zeros((len(exc_input), len(inh_input)))
for ii in range(len(exc_input)):
    for jj in range(len(inh_input)):
        rate[ii, jj] = sigmoid_function(exc_input[ii], exc_a, exc_theta) - sigmoid_function(
            inh_input[jj], inh_a, inh_theta
        ) * 0.5

rate_de = np.diff(rate, axis=0) / step_size
rate_di = (np.diff(rate, axis=1) / step_size).astype(np.float32)
