"""Build, grade and check deep-learning-math assignments on top of otter-grader."""

__version__ = "0.1.0"
