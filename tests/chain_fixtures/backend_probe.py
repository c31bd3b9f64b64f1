"""Collected only when named on the command line (tests/test_unit_on_anvil.py): prints
which chain the session's `system` fixture runs on."""


def test_print_backend(system) -> None:
    print(f"\nVYPERP_PROBE_BACKEND {type(system.chain).__name__}")
