"""The corpus scripts are programs to run in a subprocess, never modules to import (importing one would
train a model): keep pytest's collection, doctests included, away from them."""

collect_ignore_glob = ["scripts/*"]
