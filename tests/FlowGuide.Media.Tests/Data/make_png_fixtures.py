"""Makes the PNG fixtures for PngTests (run with Debian's /usr/bin/python3; needs numpy and PIL).

An independent little PNG writer (any colour type and bit depth, rows cycling through all five filters, optional
Adam7 interlacing) writes each file; PIL decodes it back to check it, and the expected samples (after FlowGuide's
expansion: palette -> RGB or RGBA, low-bit gray -> 8 bit) go to NAME.raw: uint8, or uint16 little-endian for 16-bit.
"""
import struct, zlib
import numpy as np
from PIL import Image

def chunk(t, b):
    return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)

def paeth(a, b, c):
    p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

def filt(f, row, prev, bpp):
    out = bytearray([f])
    for i in range(len(row)):
        a = row[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
        out.append((row[i] - pred) & 255)
    return out

def pack_row(samples, depth):
    """samples: 1-D int array of raw samples for one row."""
    if depth == 16: return b''.join(struct.pack('>H', int(v)) for v in samples)
    if depth == 8: return bytes(int(v) for v in samples)
    per = 8 // depth; out = bytearray()
    for i in range(0, len(samples), per):
        byte = 0
        for j in range(per):
            v = int(samples[i + j]) if i + j < len(samples) else 0
            byte |= v << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

def write_png(path, raw, color_type, depth, interlace=False, plte=None, trns=None):
    """raw: [H, W, C] integer samples as stored (palette indices for colour type 3)."""
    h, w, c = raw.shape
    bpp = max(1, c * depth // 8)
    data = bytearray(); k = 0
    for (x0, y0, dx, dy) in (ADAM7 if interlace else [(0, 0, 1, 1)]):
        sub = raw[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0: continue
        prev = bytes(len(pack_row(sub[0].reshape(-1), depth)))
        for r in range(sub.shape[0]):
            row = pack_row(sub[r].reshape(-1), depth)
            data += filt(k % 5, row, prev, bpp); k += 1; prev = row
    out = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None: out += chunk(b'PLTE', bytes(int(v) for v in plte))
    if trns is not None: out += chunk(b'tRNS', bytes(int(v) for v in trns))
    z = zlib.compress(bytes(data), 9)
    out += chunk(b'IDAT', z[:len(z) // 2]) + chunk(b'IDAT', z[len(z) // 2:]) + chunk(b'IEND', b'')
    open(path, 'wb').write(out)

rng = np.random.default_rng(7)
W, H = 13, 9
def save_raw(name, arr, depth):
    arr = np.ascontiguousarray(arr)
    (arr.astype('<u2') if depth == 16 else arr.astype(np.uint8)).tofile(name + '.raw')

cases = []
for depth in (1, 2, 4, 8, 16):
    raw = rng.integers(0, 1 << depth, size=(H, W, 1))
    name = f'gray{depth}'
    write_png(name + '.png', raw, 0, depth)
    expect = raw * 255 // ((1 << depth) - 1) if depth < 8 else raw
    save_raw(name, expect, 16 if depth == 16 else 8)
    cases.append((name, depth))
for depth in (8, 16):
    for ct, c, tag in ((2, 3, 'rgb'), (4, 2, 'graya'), (6, 4, 'rgba')):
        raw = rng.integers(0, 1 << depth, size=(H, W, c))
        name = f'{tag}{depth}'
        write_png(name + '.png', raw, ct, depth)
        save_raw(name, raw, depth)
        cases.append((name, depth))
# palette: 4-bit without tRNS, 8-bit with tRNS (shorter than the palette)
plte = rng.integers(0, 256, size=(16, 3))
idx = rng.integers(0, 16, size=(H, W, 1))
write_png('pal4.png', idx, 3, 4, plte=plte.reshape(-1))
save_raw('pal4', plte[idx[..., 0]], 8); cases.append(('pal4', 8))
trns = rng.integers(0, 256, size=10)
write_png('pal8trns.png', idx, 3, 8, plte=plte.reshape(-1), trns=trns)
alpha = np.where(idx[..., 0] < 10, trns[np.minimum(idx[..., 0], 9)], 255)
save_raw('pal8trns', np.concatenate([plte[idx[..., 0]], alpha[..., None]], axis=2), 8); cases.append(('pal8trns', 8))
# Adam7 interlaced: RGB 8-bit, gray 2-bit, RGBA 16-bit, and a 1x1 / 3x2 tiny one (empty passes)
for name, ct, c, depth, (h, w) in (('adam7_rgb8', 2, 3, 8, (H, W)), ('adam7_gray2', 0, 1, 2, (H, W)),
                                   ('adam7_rgba16', 6, 4, 16, (H, W)), ('adam7_tiny', 2, 3, 8, (2, 3))):
    raw = rng.integers(0, 1 << depth, size=(h, w, c))
    write_png(name + '.png', raw, ct, depth, interlace=True)
    save_raw(name, raw * 255 // ((1 << depth) - 1) if depth < 8 else raw, depth); cases.append((name, depth))

# Check every file with PIL.
for name, depth in cases:
    im = Image.open(name + '.png'); im.load()
    exp = np.fromfile(name + '.raw', dtype='<u2' if depth == 16 else np.uint8)
    if im.mode == 'P':
        got = np.asarray(im.convert('RGBA' if 'trns' in name else 'RGB'))
    elif im.mode == '1':
        got = np.asarray(im.convert('L'))
    else:
        got = np.asarray(im)
        if name.startswith('graya') and got.ndim == 3 and got.shape[2] == 4: got = got[..., [0, 3]]   # PIL: LA;16 -> RGBA
    g = got.reshape(-1).astype(np.int64); e = exp.astype(np.int64)
    if g.size == e.size and np.array_equal(g, e): continue
    if depth == 16 and g.size == e.size and np.array_equal(g, e >> 8): continue   # PIL reads 16-bit RGB(A) as 8-bit
    if depth < 8 and im.mode == 'L' and g.size == e.size and np.array_equal(g, e): continue
    # PIL keeps 2/4-bit gray as raw values 0..3 / 0..15 in some versions
    raise SystemExit(f'{name}: PIL decode differs (mode {im.mode})')
print('ok', len(cases))
