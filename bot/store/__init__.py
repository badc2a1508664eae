"""Persistent state behind one interface: delivery ledger, leases, subscriptions, chat state."""
