"""Differentiable operations, grouped by kind. Each op's backward sits next to its forward.

- ``elementwise``: + - * / **, exp, log, sqrt, abs, tanh, sigmoid, relu, clamp, where, casts
- ``unary``: log1p, expm1, sin, cos, reciprocal, rsqrt, square, floor, round, sign
- ``comparison``: eq ne lt le gt ge, isnan isinf isfinite, allclose, equal (not differentiable)
- ``reduce``: sum, mean, var, std, max, min, softmax, log_softmax, logsumexp
- ``scan``: cumsum, cumprod, prod
- ``sorting``: sort, argsort, topk, unique
- ``shape``: reshape, view, transpose, permute, squeeze, unsqueeze, expand, flatten, cat, stack, split, chunk
- ``gather``: gather, scatter, scatter_add, index_select, index_put, masked_fill, narrow, unbind, flip,
  repeat, roll
- ``indexing``: ``x[...]`` with scatter-add backward, PyTorch's placement of advanced dims
- ``linalg``: matmul, mm, bmm; ``einsum``: index equations
"""
