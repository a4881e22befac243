"""Reference solutions for the deep-learning-math assignments.

Pure NumPy, no I/O, no global random state.  Vectors are 2-D columns of shape
``(n, 1)``; derivatives use numerator layout (see ``calculus``).  This package is
used only by the trusted side of the grader and by the build; it never ships to
students and is never importable from a student's grading process.
"""
