"""Every benchmark of the suite; importing this registers them."""

from benchmarks import (  # noqa: F401
    b1_generator,
    b2_coordinated_omission,
    b3_server_throughput,
    b4_llm,
    b5_cold_start,
    b6_analysis,
    b7_fault_proxy,
    b9_drift_scores,
    b10_grpc,
    b12_tls,
    capacity_peers,
    ray_serve,
    sharded_generator,
)
