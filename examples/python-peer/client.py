"""A plain Python client for a pipewrap server: `@name` means a Linux
abstract name, which Python encodes with its exact length."""
import socket
import sys

name = sys.argv[1]
address = b"\0" + name[1:].encode() if name.startswith("@") else name
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
    s.connect(address)
    s.sendall(b"hello from python\n")
    reply = b""
    while chunk := s.recv(4096):
        reply += chunk
print(reply.decode().strip())
