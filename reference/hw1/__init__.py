"""Reference solutions of hw1: gradient-descent dynamics on least squares through the SVD
(``gd``), heavy-ball momentum on a quadratic (``momentum``), and backpropagation through
softmax cross-entropy and a one-hidden-layer ReLU network (``backprop``).

Conventions as in hw0: a vector is a column ``(n, 1)``; the derivative of a scalar by a
column is a row ``(1, n)`` (numerator layout), except that a parameter's gradient in
``mlp_grads`` has the shape of the parameter; relu'(0) = 0.
"""
