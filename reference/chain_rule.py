"""Reference for chain_rule: the derivative, written in the typed-answer grammar."""

dr_da = "4*a^3*exp(a^4 + 1)"
