"""gRPC servicers: thin adapters from proto messages to the node's plain functions."""
