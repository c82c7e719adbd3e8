# Practice 3: partial derivatives with sympy expressions; the cross term forgotten in df_dx
import sympy as sp

x, y = sp.symbols("x y")
df_dx = 2 * x
df_dy = 2 * x + 2 * y
