"""Makes anim.gif for GifTests with PIL (run with /usr/bin/python3): 3 frames of 20x18 with a local palette per
frame, interlacing, a transparent index and disposal 2 on the second frame. PIL's own decoding (converted to RGB)
goes to anim.raw: the frames' RGB bytes one after another."""
import numpy as np
from PIL import Image

rng = np.random.default_rng(3)
W, H = 20, 18
frames = []
for k in range(3):
    a = np.zeros((H, W, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, W)[None, :].astype(np.uint8)
    a[..., 1] = (40 * k + np.arange(H)[:, None] * 10).astype(np.uint8)
    a[..., 2] = 100
    a[4 + 2 * k: 10 + 2 * k, 3 + 3 * k: 9 + 3 * k] = (255, 255 - 60 * k, 30 * k)
    frames.append(Image.fromarray(a).quantize(colors=32 + 8 * k))
frames[0].save('anim.gif', save_all=True, append_images=frames[1:], duration=[40, 60, 80], loop=0,
               disposal=[1, 2, 1], interlace=True, optimize=False)
im = Image.open('anim.gif')
out = []
for k in range(im.n_frames):
    im.seek(k)
    out.append(np.asarray(im.convert('RGB')))
np.stack(out).tofile('anim.raw')
print(im.n_frames, out[0].shape)
