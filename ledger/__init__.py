"""The hash-chained ledger: blocks, Merkle proofs, origin certificates, storage, verification.

A pure library: standard library and numpy at most, and nothing from the rest of p2p-gym.
"""
