"""Example adapters: :mod:`snakepool.examples.showcase`, :mod:`snakepool.examples.ml` and
:mod:`snakepool.examples.notes`."""
