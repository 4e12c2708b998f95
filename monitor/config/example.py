"""The example config.json that `init` writes: one monitor of each common kind, every
target on this machine (loopback) or a reserved example name, so that it is valid as
written and checks nothing of anybody else's. Kept as text, to keep its layout."""

EXAMPLE = """\
{
  "monitors": [
    {"URL": "http://127.0.0.1:8080/health", "name": "local app", "checkInterval": "30s",
     "expect": {"status": 200}},
    {"URL": "https://example.com/", "name": "example site", "checkInterval": "1m",
     "timeout": "5s"},
    {"type": "tcp", "name": "ssh", "host": "127.0.0.1", "port": 22},
    {"type": "tls", "name": "example certificate", "host": "example.com", "port": 443,
     "checkInterval": "1h"},
    {"type": "dns", "name": "example DNS", "host": "example.com", "record": "A"},
    {"type": "disk", "path": "/", "maxPercent": 95, "warnPercent": 85},
    {"type": "memory", "maxPercent": 95, "warnPercent": 85},
    {"type": "cpu", "maxPercent": 98, "warnPercent": 90, "checkInterval": "10s"},
    {"type": "process", "name": "ssh daemon", "process": "sshd", "min": 1}
  ],
  "defaultCheckInterval": "30s",
  "alertWindow": "2m",
  "alertThreshold": 0.8,
  "retentionDays": 30
}
"""
