"""A newer release: it checks the Go side's protocol before its flags, and refuses the Go side's."""

import json
import os
import sys

theirs = os.environ.get("SNAKEPOOL_BRIDGE_PROTOCOL")
fd = int(sys.argv[sys.argv.index("--handshake-fd") + 1])
message = f"the snakepool Go worker speaks bridge protocol {theirs}, this package speaks 99"
line = {"protocol": 99, "package_version": "9.9.0", "error": {"type": "ProtocolMismatch", "message": message, "traceback": ""}}
os.write(fd, (json.dumps(line) + "\n").encode())
sys.exit(1)
