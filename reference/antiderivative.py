"""Reference for antiderivative: the demo's analytical integral, in the typed-answer grammar."""

int_ftn = "t^3/3 - t^2/2 + t"
