"""Reference for partial_derivatives: Section 3's recap, in the typed-answer grammar."""

df_dx = "2*x + 2*y"
df_dy = "2*x + 2*y"
