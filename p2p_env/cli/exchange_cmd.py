"""``p2p-gym exchange``: planned (:mod:`p2p_env.cli.planned`); its issue replaces this."""

from p2p_env.cli.planned import planned_group

app = planned_group("exchange")
