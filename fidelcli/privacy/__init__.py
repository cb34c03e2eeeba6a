"""GDPR tooling: recognising personal values so that no diagnostic ever shows one."""
