"""Everything the Docker Compose stack needs, on the host and inside its containers.

    settings      what a run may change (ports, project, image), from the environment as compose reads it
    container     inside the image: run one service, its healthcheck (health), the router's uplink (router)
    probe_agent   inside the client container: run probes where the resident is; agent_client: the host's end
    images        the image and the wheelhouse, the compose CLI; bundle: ``island bundle`` for no internet
    docker        the engine on the host: commands with a time limit, and what its errors mean

The stack's addresses are :mod:`island.topology.compose`. Nothing here imports more than the standard
library and :mod:`island.topology` unless a service runs, so the containers' healthchecks start fast.
"""
