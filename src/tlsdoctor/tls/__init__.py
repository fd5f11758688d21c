"""TLS: record layer, handshake messages, registries of protocol numbers, certificate facts."""
