"""Reference solutions of hw0: vector calculus, least squares through the SVD, ridge regression,
and how one SGD step moves a ReLU's elbow.  One module per problem; ``conventions`` holds the
teaching conventions that hw0's knobs change."""
