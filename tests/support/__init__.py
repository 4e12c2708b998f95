"""What the tests share: loopback servers, the real program run as a process, helpers."""
