"""The tagged exchange: orders with origin tags, per-tag order books, clearing mechanisms.

A pure library: it imports nothing heavier than numpy, and nothing from the rest of p2p-gym.
"""
