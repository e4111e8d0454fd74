"""The Enstore components as handlers: Policy Engine, Migration Dispatcher, Migration Worker."""
