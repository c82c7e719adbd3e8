"""Reference for filtering: Section 5's given code, on the student's own x1 (or the seeded one)."""

x1_diff = x1[1:] - x1[:-1]
x1_integrate = (x1[1:] + x1[:-1]) / 2
