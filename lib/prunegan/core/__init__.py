"""Core types and rules used everywhere: ChannelMask, the kept-count rule, validation, the registry
and the results store. Depends on nothing else in prunegan."""
