a = sp.Symbol('a')
dr_da = 4 * a**3 * sp.exp(a**4 + 1)
