"""Message security between nodes: S/MIME signing and encryption, DN lists, CA directories, TLS."""
