"""Adapters for learning-management systems and autograder platforms."""
