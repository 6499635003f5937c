"""MPEG audio frame surgery for the MP3 fixtures of scripts/make_mp3_fixtures.sh.

Plain Python (no third-party module). Each command reads one MP3 file and writes another:

  cut IN OUT SECONDS     drop everything before the first frame at or after SECONDS whose
                         main_data_begin is not 0 (a stream cut mid-way: its first frame's bit
                         reservoir points before the file), header frame and ID3v2 tag included
  vbri IN OUT            prepend a VBRI header frame (as Fraunhofer's encoders write) to a stream
                         that has no header frame
  intensity IN OUT       set the intensity-stereo bit in every joint-stereo frame's mode extension
                         (the right channel's zero bands then carry intensity positions)
  mdb IN                 print the first audio frame's main_data_begin (after any header frame)
"""

import struct
import sys

MPEG1_L3_KBPS = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
MPEG2_L3_KBPS = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
RATES = {3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000]}


def id3v2_size(b):
    if b[:3] != b"ID3":
        return 0
    size = (b[6] << 21) | (b[7] << 14) | (b[8] << 7) | b[9]
    return 10 + size + (10 if b[5] & 0x10 else 0)


def header(b, i):
    """(frame length, side-info offset, side-info size, is MPEG-1) of the layer III frame at i."""
    if b[i] != 0xFF or (b[i + 1] & 0xE0) != 0xE0:
        raise ValueError(f"no frame sync at byte {i}")
    version = (b[i + 1] >> 3) & 3
    if (b[i + 1] >> 1) & 3 != 1:
        raise ValueError(f"not layer III at byte {i}")
    crc = not (b[i + 1] & 1)
    mpeg1 = version == 3
    kbps = (MPEG1_L3_KBPS if mpeg1 else MPEG2_L3_KBPS)[b[i + 2] >> 4]
    rate = RATES[version][(b[i + 2] >> 2) & 3]
    padding = (b[i + 2] >> 1) & 1
    length = (144 if mpeg1 else 72) * kbps * 1000 // rate + padding
    mono = (b[i + 3] >> 6) == 3
    side = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    return length, i + 4 + (2 if crc else 0), side, mpeg1


def frames(b):
    """Start of each frame, after any ID3v2 tag; stops at the first byte that is no frame."""
    i = id3v2_size(b)
    out = []
    while i + 4 <= len(b):
        try:
            length, _, _, _ = header(b, i)
        except ValueError:
            break
        out.append(i)
        i += length
    return out


def is_header_frame(b, i):
    _, si, side, _ = header(b, i)
    return b[si + side : si + side + 4] in (b"Xing", b"Info") or b[i + 36 : i + 40] == b"VBRI"


def main_data_begin(b, i):
    _, si, _, mpeg1 = header(b, i)
    return ((b[si] << 1) | (b[si + 1] >> 7)) if mpeg1 else b[si]


def rate_of(b, i):
    return RATES[(b[i + 1] >> 3) & 3][(b[i + 2] >> 2) & 3]


def cut(b, seconds):
    starts = [i for i in frames(b) if not is_header_frame(b, i)]
    per_frame = 1152 if header(b, starts[0])[3] else 576
    first = int(seconds * rate_of(b, starts[0]) / per_frame)
    for i in starts[first:]:
        if main_data_begin(b, i) > 0:
            return b[i:]
    raise ValueError("no frame with a non-zero main_data_begin after the cut")


def vbri(b):
    starts = frames(b)
    if is_header_frame(b, starts[0]):
        raise ValueError("the stream already has a header frame")
    first = starts[0]
    length, _, _, mpeg1 = header(b, first)
    frame = bytearray(length)
    frame[:4] = b[first : first + 4]
    frame[2] &= 0xFD  # no padding byte: the frame is exactly `length` bytes without it
    length_np, _, _, _ = header(bytes(frame) + b"\0" * 4, 0)
    frame = frame[:length_np]
    n = len(starts)
    # VBRI: id, version 1, delay (as Fraunhofer writes it), quality, stream bytes, frames,
    # no table of contents.
    body = b"VBRI" + struct.pack(">HHHIIHHHH", 1, 576, 75, len(b) - first + length_np, n, 0, 1, 2, 1)
    frame[36 : 36 + len(body)] = body
    return b[:first] + bytes(frame) + b[first:]


def intensity(b):
    out = bytearray(b)
    changed = 0
    for i in frames(b):
        if is_header_frame(b, i):
            continue
        if (out[i + 3] >> 6) == 1:  # joint stereo
            out[i + 3] |= 0x10
            changed += 1
    if changed == 0:
        raise ValueError("no joint-stereo frame")
    return bytes(out)


def main():
    cmd, src = sys.argv[1], sys.argv[2]
    b = open(src, "rb").read()
    if cmd == "mdb":
        starts = [i for i in frames(b) if not is_header_frame(b, i)]
        print(main_data_begin(b, starts[0]))
        return
    dst = sys.argv[3]
    if cmd == "cut":
        out = cut(b, float(sys.argv[4]))
    elif cmd == "vbri":
        out = vbri(b)
    elif cmd == "intensity":
        out = intensity(b)
    else:
        raise SystemExit(f"unknown command {cmd}")
    with open(dst, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
