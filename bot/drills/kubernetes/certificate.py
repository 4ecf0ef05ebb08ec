"""The sandbox's serving certificate: self-signed, made at start, trusted through the kubeconfig.

The real API server speaks TLS, and kubectl (client-go's clientcmd) sends a kubeconfig's token only
over https, so the sandbox must serve TLS for kubectl to authenticate at all.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_VALID = datetime.timedelta(days=365)


class Certificate:
    """A fresh key and a certificate for the sandbox's address, with a server TLS context."""

    def __init__(self, host: str) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "runbook-bot-sandbox")])
        addresses = {ipaddress.ip_address("127.0.0.1")}
        try:
            address = ipaddress.ip_address(host)
            if not address.is_unspecified:
                addresses.add(address)
        except ValueError:
            pass
        names: list[x509.GeneralName] = [x509.DNSName("localhost")]
        names += [x509.IPAddress(a) for a in sorted(addresses, key=str)]
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALID)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        self._key = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context holding this certificate and its key."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # load_cert_chain reads files only; they live just long enough to be read.
        with tempfile.TemporaryDirectory() as folder:
            cert, key = Path(folder) / "tls.crt", Path(folder) / "tls.key"
            cert.write_bytes(self.pem)
            key.touch(mode=0o600)
            key.write_bytes(self._key)
            context.load_cert_chain(cert, key)
        return context
