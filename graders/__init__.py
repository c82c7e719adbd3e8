"""Sandboxed grading of numerical and symbolic calculus exercises."""
