pytest_plugins = ["tests.support.localweb", "tests.support.samples"]
