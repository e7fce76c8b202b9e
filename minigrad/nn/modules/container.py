"""``torch.nn.modules.container``'s path: the containers.

Re-exported: the classes live in ``minigrad.nn.containers``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.container.Sequential is mg.nn.Sequential
    True
"""

from minigrad.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential

__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]
