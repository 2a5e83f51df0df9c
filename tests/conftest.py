pytest_plugins = ["tests.localweb"]
