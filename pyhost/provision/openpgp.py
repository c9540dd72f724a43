"""The fingerprint of an OpenPGP public key, from its armoured or binary form.

Written by hand (about fifty lines of RFC 4880/9580 packet framing) because the Python
OpenPGP libraries either shell out to gpg, which a target host may lack, or are far larger
than this one job. pyhost verifies Docker's key on the controller before apt trusts it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from pyhost.errors import PyhostError

PUBLIC_KEY_TAG = 6


class InvalidKey(PyhostError):
    """The data is not an OpenPGP public key."""


def dearmor(data: bytes) -> bytes:
    """Binary packets from an ASCII-armoured block (binary input is returned as is)."""
    text = data.decode("ascii", errors="replace")
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in text:
        return data
    body = text.split("-----BEGIN PGP PUBLIC KEY BLOCK-----", 1)[1]
    body = body.split("-----END PGP PUBLIC KEY BLOCK-----", 1)[0]
    lines = [line.strip() for line in body.strip().splitlines()]
    if "" in lines:  # armour headers end at the first blank line
        lines = lines[lines.index("") + 1 :]
    payload = "".join(line for line in lines if line and not line.startswith("="))
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as e:
        raise InvalidKey("the key's armour is not valid base64") from e


def _packets(data: bytes) -> list[tuple[int, bytes]]:
    packets = []
    pos = 0
    while pos < len(data):
        header = data[pos]
        if not header & 0x80:
            raise InvalidKey("not an OpenPGP packet stream")
        if header & 0x40:  # new format
            tag = header & 0x3F
            first = data[pos + 1]
            if first < 192:
                length, pos = first, pos + 2
            elif first < 224:
                length, pos = ((first - 192) << 8) + data[pos + 2] + 192, pos + 3
            elif first == 255:
                length, pos = int.from_bytes(data[pos + 2 : pos + 6], "big"), pos + 6
            else:
                raise InvalidKey("partial-length packets do not occur in keys")
        else:  # old format
            tag = (header >> 2) & 0x0F
            size = {0: 1, 1: 2, 2: 4}.get(header & 3)
            if size is None:
                raise InvalidKey("indeterminate-length packets do not occur in keys")
            length = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
            pos += 1 + size
        if pos + length > len(data):
            raise InvalidKey("the key data is truncated")
        packets.append((tag, data[pos : pos + length]))
        pos += length
    return packets


def primary_fingerprint(data: bytes) -> str:
    """The primary key's fingerprint, 40 (v4) or 64 (v6) uppercase hex digits."""
    for tag, body in _packets(dearmor(data)):
        if tag != PUBLIC_KEY_TAG:
            continue
        version = body[0] if body else 0
        if version == 4:
            return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()  # noqa: S324 (the v4 fingerprint is SHA-1 by definition)
        if version == 6:
            return hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest().upper()
        raise InvalidKey(f"OpenPGP key version {version} is not supported")
    raise InvalidKey("no public key in the data")
