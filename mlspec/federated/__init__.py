"""Federated training on Flower: many devices train one spec, and no example leaves its device.

`federate(spec, data, clients=..., rounds=..., partition_scheme=..., output=...)` runs Flower's
simulation runtime locally; `client_app` and `server_app` are the Flower apps it is made of.
Needs the optional extra `mlspec[federated]` (flwr with its simulation runtime).
"""

from __future__ import annotations

from mlspec.federated.partition import PartitionError, partition
from mlspec.federated.simulation import FederatedError, FederatedResult, federate

__all__ = ["FederatedError", "FederatedResult", "PartitionError", "federate", "partition"]
