"""Reference solutions of __NAME__: pure NumPy, one module per problem."""
