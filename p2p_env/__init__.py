"""p2p-gym's community simulator and environments, with its config and command line.

The environments (``parallel_env``, the Gymnasium single-agent view) land with the environment
issue; this package already holds the typed configuration (:mod:`p2p_env.config`) and the
``p2p-gym`` command line (:mod:`p2p_env.cli`).
"""

__version__ = "0.1.0"
