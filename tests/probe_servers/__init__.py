"""Real servers for the probe's tests, started on 127.0.0.1 at free ports and stopped by the tests."""
