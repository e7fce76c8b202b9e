"""Differentiable operations, grouped by kind. Each op's backward sits next to its forward.

- ``elementwise``: + - * / **, exp, log, sqrt, abs, tanh, sigmoid, relu, clamp, where, casts
- ``reduce``: sum, mean, var, max, min, softmax, log_softmax, logsumexp
- ``shape``: reshape, view, transpose, permute, squeeze, unsqueeze, expand, flatten, cat, stack, split, chunk
- ``indexing``: ``x[...]`` with scatter-add backward
- ``linalg``: matmul
"""
