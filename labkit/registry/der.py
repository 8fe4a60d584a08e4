"""Just enough ASN.1 DER (ITU-T X.690) and PEM (RFC 7468) for the token signer's keys and certificate.

Encoders return bytes; `read(data)` parses one TLV into (tag, content, rest), `items(content)` walks a
constructed value's elements. Only definite lengths (DER has no others).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone

SEQUENCE, SET, INTEGER, BIT_STRING, OCTET_STRING, OID, UTF8_STRING = 0x30, 0x31, 0x02, 0x03, 0x04, 0x06, 0x0C
UTC_TIME, GENERALIZED_TIME = 0x17, 0x18


def tlv(tag: int, content: bytes) -> bytes:
    """Return one DER element: tag, length, content."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def sequence(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(SET, b"".join(sorted(items)))  # DER sorts a SET OF by encoding


def integer(value: int) -> bytes:
    """Return a DER INTEGER (two's complement, minimal length; labkit only encodes non-negative values)."""
    if value < 0:
        raise ValueError("negative INTEGER not supported")
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # one spare byte keeps the sign bit clear
    while len(raw) > 1 and raw[0] == 0 and raw[1] < 0x80:
        raw = raw[1:]
    return tlv(INTEGER, raw)


def oid(dotted: str) -> bytes:
    """Return a DER OBJECT IDENTIFIER from dotted text (`1.2.840.10045.2.1`)."""
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(chunk))
    return tlv(OID, bytes(body))


def bit_string(data: bytes) -> bytes:
    return tlv(BIT_STRING, b"\x00" + data)  # no unused bits


def octet_string(data: bytes) -> bytes:
    return tlv(OCTET_STRING, data)


def utf8_string(text: str) -> bytes:
    return tlv(UTF8_STRING, text.encode("utf-8"))


def explicit(number: int, content: bytes) -> bytes:
    """Return a context-specific constructed tag [number] around `content` (EXPLICIT tagging)."""
    return tlv(0xA0 | number, content)


def time_value(when: datetime) -> bytes:
    """Return an X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5)."""
    when = when.astimezone(timezone.utc)
    if when.year < 2050:
        return tlv(UTC_TIME, when.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(GENERALIZED_TIME, when.strftime("%Y%m%d%H%M%SZ").encode())


def read(data: bytes) -> tuple[int, bytes, bytes]:
    """Return (tag, content, rest) of the DER element at the start of `data`; ValueError when malformed."""
    if len(data) < 2:
        raise ValueError("DER: truncated element")
    tag, first = data[0], data[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise ValueError("DER: bad length")
        length, start = int.from_bytes(data[2:2 + count], "big"), 2 + count
    end = start + length
    if end > len(data):
        raise ValueError("DER: element longer than its data")
    return tag, data[start:end], data[end:]


def items(content: bytes) -> list[tuple[int, bytes, bytes]]:
    """Return every element of a constructed value's content as (tag, content, whole encoding)."""
    out = []
    while content:
        tag, value, rest = read(content)
        out.append((tag, value, content[:len(content) - len(rest)]))
        content = rest
    return out


def read_integer(content: bytes) -> int:
    return int.from_bytes(content, "big", signed=True)


def pem(label: str, der_bytes: bytes) -> bytes:
    """Return PEM text (RFC 7468): base64 in 64-character lines between BEGIN/END lines."""
    b64 = base64.b64encode(der_bytes).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n").encode()


def unpem(text: "bytes | str") -> list[tuple[str, bytes]]:
    """Return [(label, DER bytes)] of every PEM block in `text`."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    blocks = re.findall(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", text, re.S)
    return [(label, base64.b64decode("".join(body.split()))) for label, body in blocks]
