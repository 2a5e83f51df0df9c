pytest_plugins = ["tests.support.localweb"]
