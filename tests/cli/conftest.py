"""Fixtures of the weights tests (defined in ``helpers``, shared with ``tests/cli``)."""

from tests.weights.helpers import http_server, no_network  # noqa: F401
