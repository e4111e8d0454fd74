"""The UDP bridge: legacy Enstore components send UDP tickets; the proxy turns them into messages."""
