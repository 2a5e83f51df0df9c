from tests.support.loopback import loopback_only  # noqa: F401 (an autouse fixture)
