#!/usr/bin/env python3
"""pngcheck.py FILE COLOR...: check a screenshot without any image
library: decode the PNG (8-bit RGB or RGBA, non-interlaced, what Chromium
writes) with zlib, undo the row filters, and fail unless the picture is
not blank (many distinct colours) and holds pixels close to each COLOR
(#rrggbb), i.e. the report's SVG lines were really drawn."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("%s: not a PNG" % path)
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        sys.exit("%s: unsupported PNG (depth %d, colour type %d)" % (path, depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append(line)
        prev = line
    return width, height, bpp, rows


def main():
    path, colors = sys.argv[1], sys.argv[2:]
    width, height, bpp, rows = decode(path)
    seen = set()
    for line in rows:
        for x in range(0, width * bpp, bpp):
            seen.add(bytes(line[x:x + 3]))
    if len(seen) < 16:
        sys.exit("%s: blank or nearly (%d colours)" % (path, len(seen)))
    for hexcolor in colors:
        want = bytes.fromhex(hexcolor.lstrip("#"))
        if not any(all(abs(p - q) <= 24 for p, q in zip(px, want)) for px in seen):
            sys.exit("%s: no pixel of colour %s" % (path, hexcolor))
    print("%dx%d, %d colours" % (width, height, len(seen)))


if __name__ == "__main__":
    main()
