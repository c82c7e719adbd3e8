# Practice B1.2: numerical partial derivatives along the wrong axes
rate_de = (rate[:, 1:] - rate[:, :-1]) / step_size
rate_di = (rate[1:, :] - rate[:-1, :]) / step_size
