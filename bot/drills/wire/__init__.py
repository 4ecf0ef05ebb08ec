"""The sockets both stand-ins open: ports that follow what they stand for, and what they speak."""
